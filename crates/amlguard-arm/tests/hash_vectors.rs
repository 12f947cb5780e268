//! Known-answer vectors for ARM's `uniqueString()` and `guid()`.
//!
//! Each vector names where it was published. "Azure output" marks values
//! produced by Azure itself or by Microsoft's own deployment engine
//! (`Azure.Deployments.*`, which `bicep snapshot` runs locally); the
//! rest come from third-party ports and are marked as such.

use amlguard_arm::hash::{guid, unique_string};

const BASE32: &str = "abcdefghijklmnopqrstuvwxyz234567";

// ---------------------------------------------------------------- uniqueString

/// Azure output. KingslandConsulting/Kingsland.ArmLinter,
/// src/Kingsland.ArmLinter/Functions/ArmFunctions_UniqueString.cs: the author
/// deployed a template outputting `uniqueString(...)` with
/// `New-AzResourceGroupDeployment` and recorded the results in comments.
#[test]
fn unique_string_kingsland_arm_deployment_outputs() {
    assert_eq!(unique_string(&["aaa"]), "zavj67f3en4hc");
    assert_eq!(unique_string(&["bbb"]), "w5eragfxe33cy");
    assert_eq!(unique_string(&["zzz"]), "cryksdzzzawae");
    assert_eq!(unique_string(&["xxx", "yyy", "zzz"]), "lghi7k5js7itq");
}

/// Azure output (Microsoft's engine via `bicep snapshot`). Azure/bicep,
/// src/Bicep.Cli.IntegrationTests/SnapshotCommandTests.cs and
/// src/Bicep.Cli.IntegrationTests/Files/SnapshotCommandTests/basic/main.snapshot.json:
/// `store${uniqueString(resourceGroup().id)}` with subscription
/// 00000000-0000-0000-0000-000000000000 and resource group `myRg` gives
/// `storejs26ofeqkqeve`.
#[test]
fn unique_string_bicep_snapshot_command_test() {
    assert_eq!(
        unique_string(&["/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myRg"]),
        "js26ofeqkqeve"
    );
}

/// Azure output (Microsoft's engine via the Bicep JSON-RPC `GetSnapshot`).
/// Azure/bicep, src/Bicep.Cli.IntegrationTests/JsonRpcCommandTests.cs
/// (GetSnapshot tests): `storepwt7yebfrftwu` for subscription
/// 11068ed9-6c31-4a47-8183-4eca6d84bb32, resource group `myRg`.
#[test]
fn unique_string_bicep_jsonrpc_snapshot_test() {
    assert_eq!(
        unique_string(&["/subscriptions/11068ed9-6c31-4a47-8183-4eca6d84bb32/resourceGroups/myRg"]),
        "pwt7yebfrftwu"
    );
}

/// Azure output (Microsoft's engine via the Bicep MCP server's snapshot tool).
/// Azure/bicep, src/Bicep.McpServer.UnitTests/BicepDeploymentToolsTests.cs:
/// `storejztimcr36svny` for subscription 1ec1dd71-d88e-465d-95e2-4996c828833a,
/// resource group `myRg`.
#[test]
fn unique_string_bicep_mcp_snapshot_test() {
    assert_eq!(
        unique_string(&["/subscriptions/1ec1dd71-d88e-465d-95e2-4996c828833a/resourceGroups/myRg"]),
        "jztimcr36svny"
    );
}

/// Azure output (Microsoft's `Azure.Deployments.Expression`
/// `ExpressionBuiltInFunctions`). microsoft/commercial-marketplace-offer-deploy,
/// `Modm.Tests.UnitTests.ArmFunctionsTests` (UniqueStringShouldEqualValueCreatedFromArmTemplate),
/// input is a VM resource id from `build/vm/mainTemplate.json`'s `dnsLabel`.
/// An earlier revision (test/Tests/ArmFunctionsTests.cs) expected
/// `yeygmhukyx3qg`; the later revision corrected it to this value.
#[test]
fn unique_string_marketplace_offer_deploy_test() {
    assert_eq!(
        unique_string(&[
            "/subscriptions/31e9f9a0-9fd2-4294-a0a3-0101246d9700/resourceGroups/rg-modm201-20230913120256/providers/Microsoft.Compute/virtualMachines/bobjacmodm201"
        ]),
        "yvjxno3je5on2"
    );
}

/// Third-party port (Go). Azure/terraform-provider-azapi,
/// internal/services/functions/unique_string_function_test.go; its PR (#653)
/// says the value can be checked with a Bicep output of the same call.
#[test]
fn unique_string_azapi_provider_test() {
    assert_eq!(
        unique_string(&[
            "/subscriptions/00000000-0000-0000-0000-000000000000",
            "resource-id"
        ]),
        "cwvxuqg24sifi"
    );
}

/// Third-party port (C#/PowerShell). smokedlinq/powershell-az,
/// powershell-az.tests.ps1 (`Get-AzUniqueString`).
#[test]
fn unique_string_powershell_az_tests() {
    assert_eq!(unique_string(&["fu"]), "6rkxbspxjmsho");
    assert_eq!(unique_string(&["fubar"]), "cj2xpqsiwjfne");
    assert_eq!(unique_string(&["fu", "bar"]), "q5wxoscxs5j6k");
}

/// Third-party port (Go). cloud-maker-ai/terraform-provider-arm2tf,
/// internal/provider/resource_unique_string_test.go.
#[test]
fn unique_string_arm2tf_provider_test() {
    assert_eq!(unique_string(&["test"]), "rbgf3xv4ufgzg");
    assert_eq!(unique_string(&["test", "test2", "test3"]), "bqgd334z2uj64");
}

#[test]
fn unique_string_joins_arguments_with_a_dash() {
    assert_eq!(unique_string(&["fu", "bar"]), unique_string(&["fu-bar"]));
    assert_ne!(unique_string(&["fu", "bar"]), unique_string(&["fubar"]));
}

#[test]
fn unique_string_shape_and_determinism() {
    let inputs: [&[&str]; 6] = [
        &["a"],
        &[""],
        &[
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myRg",
            "westeurope",
        ],
        &["café", "üñí©ødé", "日本語"],
        &["0123456"],
        &["01234567"],
    ];
    for parts in inputs {
        let first = unique_string(parts);
        assert_eq!(first.len(), 13, "{parts:?}");
        assert!(
            first.chars().all(|c| BASE32.contains(c)),
            "{parts:?} -> {first}"
        );
        // 13 symbols carry 65 bits for a 64-bit hash: the last symbol's lowest
        // bit is always 0, so it is one of the even-indexed symbols.
        let last = first.chars().last().and_then(|c| BASE32.find(c));
        assert_eq!(last.map(|index| index % 2), Some(0), "{parts:?} -> {first}");
        assert_eq!(unique_string(parts), first, "{parts:?}");
    }
}

// ------------------------------------------------------------------------ guid

/// Third-party port (Go). cloud-maker-ai/terraform-provider-arm2tf,
/// internal/provider/resource_guid_test.go (and the same value in
/// cloud-maker-ai/go-guid's test): `guid('test')`. That port joins several
/// arguments with no separator, unlike ARM, so only its single-argument vector
/// is used here.
#[test]
fn guid_arm2tf_provider_test() {
    assert_eq!(guid(&["test"]), "d6a5baf1-8b9b-542a-8525-2982f1f98a0c");
}

/// Cross-check, not a published Azure output: the same name-based UUIDs from an
/// independent RFC 4122 implementation, CPython's standard library:
/// `uuid.uuid5(uuid.UUID('11fb06fb-712d-4ddd-98c7-e71bbd588830'), '-'.join(args))`.
#[test]
fn guid_matches_cpython_uuid5_in_arm_namespace() {
    assert_eq!(
        guid(&["a", "b", "c"]),
        "a98fa280-e03f-5afa-8d8e-92d0a9c201e8"
    );
    assert_eq!(guid(&["hello"]), "520f8434-fe3a-5d99-888d-450a827486a1");
    assert_eq!(
        guid(&["hello", "world"]),
        "a5b868f8-11fe-567a-ace0-e77cc87f104e"
    );
    assert_eq!(
        guid(&[
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myRg",
            "b24988ac-6180-42a0-ab88-20f7382dd24c"
        ]),
        "345b89a6-e07b-52e6-9739-dd2291ae8eb2"
    );
    // Non-ASCII names are hashed as UTF-8.
    assert_eq!(guid(&["café", "ü"]), "f78d3771-1a02-5eed-99bd-7a7464f0e03c");
    assert_eq!(guid(&[""]), "e655a85f-3ab2-5e4a-9666-569aa72a5a10");
}

#[test]
fn guid_joins_arguments_with_a_dash() {
    assert_eq!(guid(&["a", "b", "c"]), guid(&["a-b-c"]));
    assert_ne!(guid(&["a", "b", "c"]), guid(&["abc"]));
    assert_ne!(guid(&["hello", "world"]), guid(&["world", "hello"]));
}

#[test]
fn guid_shape_version_variant_and_determinism() {
    let inputs: [&[&str]; 5] = [
        &["a"],
        &[""],
        &[
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myRg",
            "reader",
        ],
        &["café", "日本語"],
        &["x"; 40],
    ];
    for parts in inputs {
        let value = guid(parts);
        assert_eq!(value.len(), 36, "{parts:?}");
        for (position, c) in value.char_indices() {
            if matches!(position, 8 | 13 | 18 | 23) {
                assert_eq!(c, '-', "{parts:?} -> {value}");
            } else {
                assert!(
                    c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
                    "{parts:?} -> {value}"
                );
            }
        }
        // Version nibble 5 (name-based, SHA-1).
        assert_eq!(value.chars().nth(14), Some('5'), "{parts:?} -> {value}");
        // RFC 4122 variant: the clock_seq_hi byte is 10xxxxxx, so 8, 9, a or b.
        let variant = value.chars().nth(19);
        assert!(
            matches!(variant, Some('8' | '9' | 'a' | 'b')),
            "{parts:?} -> {value}"
        );
        assert_eq!(guid(parts), value, "{parts:?}");
    }
}
