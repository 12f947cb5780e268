//! Reading security rules from the model (being written).
