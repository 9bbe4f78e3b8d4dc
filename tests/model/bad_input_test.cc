// Bad manifests, each with the exact message a user sees: the place
// (file:line:column), the field path, what is wrong and how to fix it.
#include <gtest/gtest.h>

#include "core/model/loader.h"

namespace edgebed::model {
namespace {

struct BadCase {
  const char* name;
  const char* yaml;
  const char* error;  // the first error, exactly
};

const char* kPod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n";

const BadCase kCases[] = {
    {"yaml_syntax", "apiVersion: v1\nkind: [Pod\n", 
     "bad.yaml:3:1: YAML syntax error: end of sequence flow not found"},
    {"not_a_mapping", "- just\n- a list\n", 
     "bad.yaml:1:1: (document): must be a mapping of fields, not a list"},
    {"missing_kind", "apiVersion: v1\nmetadata: {name: x}\n", 
     "bad.yaml:1:1: kind: is required"},
    {"unknown_kind", "apiVersion: v1\nkind: Pdo\nmetadata: {name: x}\n", 
     "bad.yaml:2:7: kind: unknown kind \"Pdo\"; edgebed loads Deployment, GlobalNetworkPolicy, Namespace, NetworkPolicy, Node, PersistentVolumeClaim, Pod, PriorityClass, StorageClass, Tier, VolumeSnapshot"},
    {"wrong_api_version", "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: x}\n", 
     "bad.yaml:1:13: apiVersion: \"apps/v1beta1\" does not serve kind Deployment; use apps/v1"},
    {"unknown_field_with_suggestion",
     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replica: 3\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n", 
     "bad.yaml:5:3: spec.replica: unknown field \"replica\"; did you mean \"replicas\"?"},
    {"missing_name", "apiVersion: v1\nkind: Namespace\nmetadata: {labels: {a: b}}\n", 
     "bad.yaml:3:11: metadata.name: is required"},
    {"bad_name", "apiVersion: v1\nkind: Namespace\nmetadata: {name: Floor_1}\n", 
     "bad.yaml:3:18: metadata.name: \"Floor_1\" is not a valid name: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63"},
    {"namespace_on_cluster_kind", "apiVersion: v1\nkind: Node\nmetadata: {name: n, namespace: default}\n", 
     "bad.yaml:3:32: metadata.namespace: Node is cluster-scoped and has no namespace; remove it"},
    {"bad_quantity", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources:\n      requests: {cpu: 12x}\n", 
     "bad.yaml:8:23: spec.containers[0].resources.requests.cpu: \"12x\" is not a quantity (unknown suffix \"x\"; use Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or e<exponent>); write e.g. \"250m\", \"1.5\", \"2Gi\", \"500M\""},
    {"request_above_limit", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources:\n      requests: {memory: 2Gi}\n      limits: {memory: 1Gi}\n", 
     "bad.yaml:8:17: spec.containers[0].resources.requests.memory: request 2Gi is above its limit 1Gi; lower the request or raise the limit"},
    {"no_containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n", 
     "bad.yaml:5:15: spec.containers: a pod needs at least one container"},
    {"port_out_of_range", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 70000}]\n", 
     "bad.yaml:7:29: spec.containers[0].ports[0].containerPort: 70000 is out of range; it must be between 1 and 65535"},
    {"bad_protocol", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 80, protocol: tcp}]\n", 
     "bad.yaml:7:43: spec.containers[0].ports[0].protocol: \"tcp\" is not one of TCP, UDP, SCTP; did you mean \"TCP\"?"},
    {"duplicate_container", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}, {name: c}]\n", 
     "bad.yaml:5:34: spec.containers[1].name: container name \"c\" is used twice in the pod"},
    {"numeric_label_value", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: f\n  labels: {floor: 1}\n", 
     "bad.yaml:5:19: metadata.labels.floor: 1 is not a string; quote it (\"1\")"},
    {"bad_label_key", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: f\n  labels: {\"-bad\": x}\n", 
     "bad.yaml:5:20: metadata.labels.-bad: invalid label key: \"-bad\" must be 1-63 characters, alphanumerics with '-', '_' or '.' inside"},
    {"toleration_exists_with_value", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  tolerations: [{key: k, operator: Exists, value: v}]\n", 
     "bad.yaml:6:51: spec.tolerations[0].value: must be empty when operator is Exists"},
    {"toleration_seconds_without_noexecute", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  tolerations: [{key: k, operator: Exists, effect: NoSchedule, tolerationSeconds: 30}]\n", 
     "bad.yaml:6:83: spec.tolerations[0].tolerationSeconds: only applies to effect NoExecute; set effect: NoExecute or remove it"},
    {"gt_needs_one_integer", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms: [{matchExpressions: [{key: cores, operator: Gt, values: [many]}]}]\n", 
     "bad.yaml:9:49: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: operator Gt needs exactly one integer value"},
    {"in_needs_values", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector: {matchExpressions: [{key: app, operator: In}]}\n        topologyKey: kubernetes.io/hostname\n", 
     "bad.yaml:9:44: spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: must not be empty for operator In"},
    {"affinity_needs_topology_key", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  affinity:\n    podAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector: {matchLabels: {app: db}}\n", 
     "bad.yaml:9:9: spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: is required"},
    {"weight_out_of_range", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  affinity:\n    nodeAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n      - weight: 101\n        preference: {matchExpressions: [{key: a, operator: Exists}]}\n", 
     "bad.yaml:9:17: spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: 101 is out of range; it must be between 1 and 100"},
    {"selector_does_not_match_template",
     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: c}]}\n", 
     "bad.yaml:5:13: spec.selector: does not match the template's labels (spec.template.metadata.labels); the Deployment would never own its pods"},
    {"replicas_quoted", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: \"3\"\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n", 
     "bad.yaml:5:13: spec.replicas: \"3\" is not a whole number; remove the quotes"},
    {"bad_cidr", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.300/8}}]\n", 
     "bad.yaml:7:29: spec.ingress[0].from[0].ipBlock.cidr: \"10.0.0.300/8\" is not a CIDR: \"10.0.0.300\" is not an IP address"},
    {"except_outside_cidr", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}}]\n", 
     "bad.yaml:7:51: spec.ingress[0].from[0].ipBlock.except[0]: \"10.1.0.0/24\" must lie strictly inside cidr \"10.0.0.0/16\""},
    {"ipblock_with_selector", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/16}, podSelector: {}}]\n", 
     "bad.yaml:7:12: spec.ingress[0].from[0]: ipBlock cannot be combined with podSelector or namespaceSelector in one peer; make them separate peers"},
    {"endport_below_port", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  egress:\n  - ports: [{port: 9000, endPort: 8000}]\n", 
     "bad.yaml:7:35: spec.egress[0].ports[0].endPort: must not be below port (9000)"},
    {"endport_with_named_port", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  egress:\n  - ports: [{port: http, endPort: 8000}]\n", 
     "bad.yaml:7:35: spec.egress[0].ports[0].endPort: needs a numeric port to start the range"},
    {"bad_policy_type", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  policyTypes: [Ingres]\n", 
     "bad.yaml:6:17: spec.policyTypes[0]: \"Ingres\" is not one of Ingress, Egress; did you mean \"Ingress\"?"},
    {"missing_pod_selector", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress: []\n", 
     "bad.yaml:5:3: spec.podSelector: is required"},
    {"calico_bad_action", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress: [{action: Accept}]\n", 
     "bad.yaml:5:22: spec.ingress[0].action: \"Accept\" is not one of Allow, Deny, Log, Pass"},
    {"calico_ports_without_protocol", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress: [{action: Allow, destination: {ports: [80]}}]\n", 
     "bad.yaml:5:50: spec.ingress[0].destination.ports: ports need protocol TCP, UDP, SCTP or UDPLite on the rule"},
    {"calico_bad_port_range", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: [\"90:80\"]}}]\n", 
     "bad.yaml:5:66: spec.ingress[0].destination.ports[0]: \"90:80\" is not a port range; write \"first:last\" with 0 <= first <= last <= 65535"},
    {"calico_bad_protocol", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress: [{action: Allow, protocol: 300}]\n", 
     "bad.yaml:5:39: spec.ingress[0].protocol: \"300\" is not a protocol; use TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255"},
    {"calico_icmp_without_icmp_protocol", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  ingress: [{action: Allow, protocol: TCP, icmp: {type: 8}}]\n", 
     "bad.yaml:5:50: spec.ingress[0].icmp: needs protocol ICMP or ICMPv6"},
    {"calico_namespace_selector_on_namespaced_policy", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  namespaceSelector: all()\n", 
     "bad.yaml:5:22: spec.namespaceSelector: only a GlobalNetworkPolicy selects namespaces; make this a GlobalNetworkPolicy, or put the namespaceSelector in a rule's source or destination"},
    {"tier_bad_default_action", "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {defaultAction: Allow}\n", 
     "bad.yaml:4:23: spec.defaultAction: \"Allow\" is not one of Deny, Pass"},
    {"px_repl_out_of_range", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {repl: \"4\"}\n", 
     "bad.yaml:5:20: parameters.repl: \"4\" is not a replica count; use \"1\", \"2\" or \"3\""},
    {"px_repl_unquoted", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {repl: 2}\n", 
     "bad.yaml:5:20: parameters.repl: 2 is not a string; quote it (\"2\")"},
    {"px_bad_schedule", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {snap_schedule: \"hourly=5,3\"}\n", 
     "bad.yaml:5:29: parameters.snap_schedule: \"hourly\" is not a schedule kind; use periodic, daily, weekly or monthly"},
    {"px_bad_priority", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {priority_io: urgent}\n", 
     "bad.yaml:5:27: parameters.priority_io: \"urgent\" is not a priority; use high, medium or low"},
    {"storageclass_without_provisioner", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\n", 
     "bad.yaml:1:1: provisioner: is required"},
    {"pvc_bad_access_mode", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec:\n  accessModes: [ReadWriteAll]\n  resources: {requests: {storage: 1Gi}}\n", 
     "bad.yaml:5:17: spec.accessModes[0]: \"ReadWriteAll\" is not one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod; did you mean \"ReadWriteMany\"?"},
    {"pvc_without_size", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec:\n  accessModes: [ReadWriteOnce]\n", 
     "bad.yaml:5:3: spec.resources.requests.storage: is required: how large a volume to provision, e.g. 10Gi"},
    {"snapshot_two_sources", "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata: {name: s}\nspec:\n  source: {persistentVolumeClaimName: a, volumeSnapshotContentName: b}\n", 
     "bad.yaml:5:11: spec.source: needs exactly one of persistentVolumeClaimName and volumeSnapshotContentName"},
    {"bool_quoted", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {unschedulable: \"yes\"}\n", 
     "bad.yaml:4:23: spec.unschedulable: \"yes\" is not true or false; remove the quotes"},
    {"string_expected_got_list", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: [a, b]}]\n", 
     "bad.yaml:5:33: spec.containers[0].image: must be a string, not a list"},
};

class BadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInput, GivesItsExactMessage) {
  const BadCase& c = GetParam();
  const LoadResult r = LoadManifests(c.yaml, "bad.yaml");
  ASSERT_FALSE(r.errors.empty()) << c.name << " loaded without an error";
  EXPECT_TRUE(r.objects.empty()) << c.name;
  EXPECT_EQ(r.errors[0].ToString(), c.error) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Manifests, BadInput, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(BadInputs, EveryErrorOfAFileIsReported) {
  const LoadResult r = LoadManifests(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
      "    resources: {requests: {cpu: lots}}\n    ports: [{containerPort: 0}]\n  nodeNmae: x\n",
      "many.yaml");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[2].ToString(), "many.yaml:9:3: spec.nodeNmae: unknown field \"nodeNmae\"; did you mean \"nodeName\"?");
}

// Found by the fuzzer: yaml-cpp 0.7's LoadAll never returns on a lone ",",
// and its Load reads ",\n..." as an empty document.
TEST(BadInputs, StrayTopLevelCommaIsAnErrorNotAHang) {
  const LoadResult r = LoadManifests(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n  ,\napiVersion: v1\n", "comma.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            "comma.yaml:5:3: YAML syntax error: this document could not be read; check for a "
            "stray ',' or an unclosed bracket");
  EXPECT_EQ(r.objects.size(), 1u);
}

TEST(BadInputs, DirectivesAndEndMarkersAreYaml) {
  const LoadResult r = LoadManifests(
      "%YAML 1.2\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n...\n"
      "--- {apiVersion: v1, kind: Namespace, metadata: {name: b, labels: {x: Y}}}\n"
      "# only a comment\n---\n",
      "markers.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  EXPECT_EQ(r.objects.size(), 2u);
  const LoadResult late = LoadManifests("---\n\n\napiVersion: v1\nkind: Nope\n", "late.yaml");
  ASSERT_EQ(late.errors.size(), 1u);
  EXPECT_EQ(late.errors[0].pos.ToString(), "late.yaml:5:7");  // positions survive the split
}

TEST(BadInputs, OversizedInputIsRefusedUpFront) {
  const std::string huge(kMaxInputBytes + 1, '#');
  const LoadResult r = LoadManifests(huge, "huge.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(), "huge.yaml: larger than 16 MiB; split it into several files");
}

// A few kilobytes of YAML whose aliases would expand to millions of nodes.
TEST(BadInputs, AliasBombsHitTheNodeBudget) {
  std::string doc = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nx-ports: &p [";
  for (int i = 0; i < 1000; ++i) doc += std::string(i ? ", " : "") + "{containerPort: 1}";
  doc += "]\nspec:\n  containers: [&c {name: c, ports: *p}";
  for (int i = 0; i < 3000; ++i) doc += ", *c";
  doc += "]\n";
  ASSERT_LT(doc.size(), 64u * 1024);
  const LoadResult r = LoadManifests(doc, "bomb.yaml");
  ASSERT_FALSE(r.ok());
  bool budget = false;
  for (const auto& e : r.errors) {
    budget |= e.message == "the input expands to more than " +
                               std::to_string(100'000 + doc.size() / 4) +
                               " nodes (through YAML aliases?); write it out plainly";
  }
  EXPECT_TRUE(budget);
  EXPECT_LT(r.errors.size(), 10000u);
}

}  // namespace
}  // namespace edgebed::model
