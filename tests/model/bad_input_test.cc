// Bad manifests, each with the exact message a user sees: the place
// (file:line:column), the field path, what is wrong and how to fix it.
#include <gtest/gtest.h>

#include "core/model/loader.h"
#include "tests/model/testdata.h"

namespace edgebed::model {
namespace {

struct BadCase {
  const char* name;
  const char* yaml;
  const char* error;  // the first error, exactly
};


const BadCase kCases[] = {
    {"yaml_syntax", "apiVersion: v1\nkind: [Pod\n", 
     "bad.yaml:3:1: YAML syntax error: end of sequence flow not found"},
    {"not_a_mapping", "- just\n- a list\n", 
     "bad.yaml:1:1: (document): must be a mapping of fields, not a list"},
    {"missing_kind", "apiVersion: v1\nmetadata: {name: x}\n", 
     "bad.yaml:1:1: kind: is required"},
    {"unknown_kind", "apiVersion: v1\nkind: Pdo\nmetadata: {name: x}\n", 
     "bad.yaml:2:7: kind: unknown kind \"Pdo\"; edgebed loads CronJob, DaemonSet, Deployment, GlobalNetworkPolicy, GlobalNetworkSet, Job, KubeSchedulerConfiguration, Namespace, NetworkPolicy, NetworkSet, Node, PersistentVolumeClaim, Pod, PriorityClass, SchedulePolicy, Service, ServiceAccount, StatefulSet, StorageClass, Tier, VolumeSnapshot"},
    {"daemonset_restart_policy",
     "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {restartPolicy: OnFailure, containers: [{name: c}]}\n",
     "bad.yaml:8:27: spec.template.spec.restartPolicy: a DaemonSet's pods must have restartPolicy Always"},
    {"daemonset_selector",
     "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: c}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n",
     "bad.yaml:5:13: spec.selector: does not match the template's labels (spec.template.metadata.labels); the DaemonSet would never own its pods"},
    {"daemonset_strategy",
     "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n  updateStrategy: {type: Rolling}\n",
     "bad.yaml:9:26: spec.updateStrategy.type: \"Rolling\" is not one of RollingUpdate, OnDelete"},
    {"statefulset_claim_templates_twice",
     "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n  volumeClaimTemplates:\n  - {metadata: {name: data}, spec: {resources: {requests: {storage: 1Gi}}}}\n  - {metadata: {name: data}, spec: {resources: {requests: {storage: 2Gi}}}}\n",
     "bad.yaml:11:5: spec.volumeClaimTemplates[1].metadata.name: \"data\" names two claim templates; each needs its own name"},
    {"statefulset_max_unavailable_zero",
     "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n  updateStrategy: {rollingUpdate: {maxUnavailable: 0}}\n",
     "bad.yaml:9:52: spec.updateStrategy.rollingUpdate.maxUnavailable: must be at least 1 (or 1%): a rollout must be able to replace a pod"},
    {"job_restart_policy_always",
     "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec: {restartPolicy: Always, containers: [{name: c}]}\n",
     "bad.yaml:6:27: spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"; a Job's pods run to completion: write restartPolicy: Never (a failed pod is replaced) or OnFailure (its container restarts in place)"},
    {"job_restart_policy_missing",
     "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers: [{name: c}]\n",
     "bad.yaml:7:7: spec.template.spec.restartPolicy: Required value (a pod's default, Always, is not allowed here): supported values: \"OnFailure\", \"Never\"; a Job's pods run to completion: write restartPolicy: Never (a failed pod is replaced) or OnFailure (its container restarts in place)"},
    {"job_indexed_without_completions",
     "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  parallelism: 2\n  completionMode: Indexed\n  template:\n    spec: {restartPolicy: Never, containers: [{name: c}]}\n",
     "bad.yaml:6:19: spec.completions: Required value: when completion mode is Indexed; write how many indexes must succeed"},
    {"cronjob_malformed_schedule",
     "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: \"*/5 25 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec: {restartPolicy: OnFailure, containers: [{name: c}]}\n",
     "bad.yaml:5:13: spec.schedule: invalid schedule \"*/5 25 * * *\": hour field \"25\": \"25\" is outside 0-23"},
    {"cronjob_schedule_fields",
     "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: \"0 3 * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec: {restartPolicy: OnFailure, containers: [{name: c}]}\n",
     "bad.yaml:5:13: spec.schedule: invalid schedule \"0 3 * *\": expected exactly 5 fields (minute hour day-of-month month day-of-week), found 4 in \"0 3 * *\""},
    {"cronjob_name_too_long",
     "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: a-very-long-cronjob-name-that-is-longer-than-fifty-two}\nspec:\n  schedule: \"@daily\"\n  jobTemplate:\n    spec:\n      template:\n        spec: {restartPolicy: OnFailure, containers: [{name: c}]}\n",
     "bad.yaml:3:18: metadata.name: must be no more than 52 characters (its Jobs are named <name>-<scheduled minute>, 11 characters more); shorten it"},
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
    {"gt_value_with_space", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms: [{matchExpressions: [{key: cores, operator: Gt, values: [\" 4\"]}]}]\n",
     "bad.yaml:9:49: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: operator Gt needs exactly one integer value"},
    {"match_fields_name_only", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [a, b]}]}]\n",
     "bad.yaml:9:29: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0]: metadata.name takes operator In or NotIn with exactly one value"},
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
    {"duplicate_key", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n",
     "bad.yaml:5:3: metadata.name: \"name\" is given twice (first on line 4); keep one"},
    {"duplicate_label", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {floor: \"1\", floor: \"2\"}\n",
     "bad.yaml:5:24: metadata.labels.floor: \"floor\" is given twice (first on line 5); keep one"},
    {"metadata_typo", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  lables: {x: y}\n",
     "bad.yaml:5:3: metadata.lables: unknown field \"lables\"; did you mean \"labels\"?"},
    {"volume_field_typo", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  volumes: [{name: v, persistentVolumeClaim: {claimName: data, readonly: true}}]\n",
     "bad.yaml:6:64: spec.volumes[0].persistentVolumeClaim.readonly: unknown field \"readonly\"; did you mean \"readOnly\"?"},
    {"tier_typo", "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: 100, defualtAction: Pass}\n",
     "bad.yaml:4:20: spec.defualtAction: unknown field \"defualtAction\"; did you mean \"defaultAction\"?"},
    {"taint_effect_typo", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec:\n  taints: [{key: gpu, effect: NoSchedul}]\n",
     "bad.yaml:5:31: spec.taints[0].effect: \"NoSchedul\" is not one of NoSchedule, PreferNoSchedule, NoExecute; did you mean \"NoSchedule\"?"},
    {"negative_request", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources: {requests: {memory: -1Gi}}\n",
     "bad.yaml:7:36: spec.containers[0].resources.requests.memory: must not be negative"},
    {"quantity_overflow", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources: {limits: {memory: 99999999999999999999}}\n",
     "bad.yaml:7:34: spec.containers[0].resources.limits.memory: \"99999999999999999999\" is not a quantity (too large: edgebed holds quantities up to 8Pi); write e.g. \"250m\", \"1.5\", \"2Gi\", \"500M\""},
    {"toleration_seconds_not_number", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  tolerations: [{key: a, operator: Exists, effect: NoExecute, tolerationSeconds: ten}]\n",
     "bad.yaml:6:82: spec.tolerations[0].tolerationSeconds: \"ten\" is not a whole number"},
    {"min_domains_with_schedule_anyway", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  topologySpreadConstraints:\n  - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway, minDomains: 2}\n",
     "bad.yaml:7:84: spec.topologySpreadConstraints[0].minDomains: can only be used with whenUnsatisfiable: DoNotSchedule"},
    {"recreate_with_rolling_update", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n  strategy:\n    type: Recreate\n    rollingUpdate: {maxSurge: 1}\n",
     "bad.yaml:11:20: spec.strategy.rollingUpdate: may not be specified when strategy type is Recreate; remove it or use type RollingUpdate"},
    {"max_surge_and_unavailable_zero", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n  strategy:\n    rollingUpdate: {maxSurge: 0, maxUnavailable: 0%}\n",
     "bad.yaml:10:50: spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0: the rollout could never replace a pod; allow at least 1 of either"},
    {"max_unavailable_over_100", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n  strategy:\n    rollingUpdate: {maxUnavailable: 110%}\n",
     "bad.yaml:10:37: spec.strategy.rollingUpdate.maxUnavailable: must not be more than 100%"},
    {"max_surge_malformed", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n  strategy:\n    rollingUpdate: {maxSurge: 25 percent}\n",
     "bad.yaml:10:31: spec.strategy.rollingUpdate.maxSurge: \"25 percent\" must be a non-negative number or a percentage like \"25%\""},
    {"policy_types_twice", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress, Ingress]\n",
     "bad.yaml:6:34: spec.policyTypes[2]: \"Ingress\" is listed twice; keep one"},
    {"empty_peer", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{}]\n",
     "bad.yaml:7:12: spec.ingress[0].from[0]: a peer needs podSelector, namespaceSelector or ipBlock"},
    {"ipblock_bare_address", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 192.168.1.7}}]\n",
     "bad.yaml:7:29: spec.ingress[0].from[0].ipBlock.cidr: \"192.168.1.7\" is not a CIDR; add the prefix length, e.g. \"192.168.1.7/32\""},
    {"calico_do_not_track_namespaced", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n  selector: all()\n  doNotTrack: true\n",
     "bad.yaml:6:15: spec.doNotTrack: only a GlobalNetworkPolicy has doNotTrack (it applies to host endpoints); make this a GlobalNetworkPolicy"},
    {"calico_prednat_egress", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  preDNAT: true\n  applyOnForward: true\n  egress: [{action: Allow}]\n",
     "bad.yaml:7:11: spec.egress: a preDNAT policy cannot have egress rules (it sees packets only on their way in); move them to another policy"},
    {"calico_prednat_and_donottrack", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  preDNAT: true\n  doNotTrack: true\n  applyOnForward: true\n",
     "bad.yaml:5:12: spec.preDNAT: preDNAT and doNotTrack cannot both be true; choose one"},
    {"calico_icmp_wrong_ip_version", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress: [{action: Allow, protocol: ICMPv6, ipVersion: 4}]\n",
     "bad.yaml:5:58: spec.ingress[0].ipVersion: must be 6 with protocol ICMPv6; drop ipVersion or fix the protocol"},
    {"calico_bad_net", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress: [{action: Allow, source: {nets: [10.0.0.0/33]}}]\n",
     "bad.yaml:5:45: spec.ingress[0].source.nets[0]: \"10.0.0.0/33\" is not a CIDR: the prefix length must be 0..32"},
    {"calico_not_an_address", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress: [{action: Allow, source: {notNets: [building-7]}}]\n",
     "bad.yaml:5:48: spec.ingress[0].source.notNets[0]: \"building-7\" is neither a CIDR nor an IP address"},
    {"calico_lowercase_protocol", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress: [{action: Allow, protocol: udp}]\n",
     "bad.yaml:5:39: spec.ingress[0].protocol: \"udp\" is not a protocol; use TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255 (did you mean \"UDP\"?)"},
    {"px_io_profile_typo", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {io_profile: db-remote}\n",
     "bad.yaml:5:26: parameters.io_profile: \"db-remote\" is not an io_profile; use auto, auto_journal, db, db_remote, sequential, random, cms, sync_shared, journal or none (did you mean \"db_remote\"?)"},
    {"px_snap_interval_bad", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {snap_interval: hourly}\n",
     "bad.yaml:5:29: parameters.snap_interval: \"hourly\" is not a number of minutes; write e.g. \"60\" (0: no snapshots)"},
    {"px_schedule_bad_weekday", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {snap_schedule: \"weekly=sonday@03:00,4\"}\n",
     "bad.yaml:5:29: parameters.snap_schedule: \"weekly=sonday@03:00,4\" is not a valid weekly schedule; write weekly=DAY@HH:MM,KEEP, e.g. weekly=sunday@03:00,4"},
    {"list_item_error_path", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: storage.k8s.io/v1\n  kind: StorageClass\n  metadata: {name: s}\n  provisioner: pxd.portworx.com\n  parameters: {repl: \"0\"}\n",
     "bad.yaml:8:22: items[0].parameters.repl: \"0\" is not a replica count; use \"1\", \"2\" or \"3\""},
    {"pvc_data_source_kind", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n  dataSource: {kind: Snapshot, name: s}\n",
     "bad.yaml:7:22: spec.dataSource.kind: \"Snapshot\" is not one of VolumeSnapshot, PersistentVolumeClaim"},
    {"priority_class_too_high", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: p}\nvalue: 2000000000\n",
     "bad.yaml:4:8: value: 2000000000 is out of range; it must be between -2147483648 and 1000000000"},
    {"snapshot_without_source", "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata: {name: s}\nspec: {volumeSnapshotClassName: c}\n",
     "bad.yaml:4:7: spec.source: is required"},
    {"stork_time_not_kitchen", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n  daily: {time: \"22:14\", retain: 3}\n",
     "bad.yaml:5:17: policy.daily.time: \"22:14\" is not a time like 10:14PM (Go's time.Kitchen, as Stork reads it); write the hour 1-12, a colon, two digits of minutes, then AM or PM"},
    {"stork_time_missing", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n  monthly: {date: 1}\n",
     "bad.yaml:5:12: policy.monthly.time: is required"},
    {"stork_bad_day", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n  weekly: {day: Thursdy, time: \"10:13PM\"}\n",
     "bad.yaml:5:17: policy.weekly.day: \"Thursdy\" is not a day; use Sunday, Sun, Monday, Mon, Tuesday, Tue, Wednesday, Wed, Thursday, Thu, Thur, Thurs, Friday, Fri, Saturday or Sat (did you mean \"Thursday\"?)"},
    {"stork_bad_full_snapshot_day", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n  daily: {time: \"1:00AM\", forceFullSnapshotDay: weekend}\n",
     "bad.yaml:5:49: policy.daily.forceFullSnapshotDay: \"weekend\" is not a day; use Sunday, Sun, Monday, Mon, Tuesday, Tue, Wednesday, Wed, Thursday, Thu, Thur, Thurs, Friday, Fri, Saturday or Sat"},
    {"stork_date_32", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n  monthly: {date: 32, time: \"8:05PM\"}\n",
     "bad.yaml:5:19: policy.monthly.date: 32 is out of range; it must be between 1 and 31"},
    {"stork_interval_zero", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n  interval: {intervalMinutes: 0}\n",
     "bad.yaml:5:31: policy.interval.intervalMinutes: 0 is out of range; it must be at least 1 (the minutes between runs)"},
    {"stork_negative_retain", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n  interval: {intervalMinutes: 15, retain: -1}\n",
     "bad.yaml:5:43: policy.interval.retain: -1 is out of range; it must be at least 0 (0 or absent: Stork's default, 10)"},
    {"stork_no_rules", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy: {}\n",
     "bad.yaml:4:9: policy: names no rule; give at least one of interval, daily, weekly and monthly"},
    {"stork_no_policy", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\n",
     "bad.yaml:1:1: policy: names no rule; give at least one of interval, daily, weekly and monthly"},
    {"stork_unknown_rule", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n  dayly: {time: \"1:00AM\"}\n",
     "bad.yaml:5:3: policy.dayly: unknown field \"dayly\"; did you mean \"daily\"?"},
    {"stork_namespace_on_cluster_kind", "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p, namespace: kube-system}\npolicy:\n  interval: {intervalMinutes: 5}\n",
     "bad.yaml:3:32: metadata.namespace: SchedulePolicy is cluster-scoped and has no namespace; remove it"},
    {"stork_wrong_api_version", "apiVersion: stork.libopenstorage.org/v1\nkind: SchedulePolicy\nmetadata: {name: p}\n",
     "bad.yaml:1:13: apiVersion: \"stork.libopenstorage.org/v1\" does not serve kind SchedulePolicy; use stork.libopenstorage.org/v1alpha1"},
    {"px_stork_schedule_unknown_key", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters:\n  snapshotschedule.stork.libopenstorage.org/daily: |\n    schedulePolicyName: daily\n    retain: 3\n",
     "bad.yaml:6:52: parameters.snapshotschedule.stork.libopenstorage.org/daily: unknown key \"retain\" in the value; it takes schedulePolicyName, reclaimPolicy and annotations"},
    {"px_stork_schedule_key_typo", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters:\n  snapshotschedule.stork.libopenstorage.org/daily: |\n    schedulePolicy: daily\n",
     "bad.yaml:6:52: parameters.snapshotschedule.stork.libopenstorage.org/daily: unknown key \"schedulePolicy\" in the value; did you mean \"schedulePolicyName\"?"},
    {"px_stork_schedule_without_policy", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters:\n  snapshotschedule.stork.libopenstorage.org/daily: |\n    annotations:\n      portworx/snapshot-type: local\n",
     "bad.yaml:6:52: parameters.snapshotschedule.stork.libopenstorage.org/daily: \"schedulePolicyName\" is required: the SchedulePolicy whose times it follows"},
    {"px_stork_schedule_remote", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters:\n  snapshotschedule.stork.libopenstorage.org/daily: |\n    schedulePolicyName: daily\n    annotations:\n      portworx/snapshot-type: remote\n",
     "bad.yaml:6:52: parameters.snapshotschedule.stork.libopenstorage.org/daily: annotations.portworx/snapshot-type: \"remote\" is not one of local, cloud"},
    {"px_stork_schedule_bad_reclaim", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters:\n  snapshotschedule.stork.libopenstorage.org/daily: |\n    schedulePolicyName: daily\n    reclaimPolicy: delete\n",
     "bad.yaml:6:52: parameters.snapshotschedule.stork.libopenstorage.org/daily: reclaimPolicy: \"delete\" is not one of Delete, Retain; did you mean \"Delete\"?"},
    {"px_stork_schedule_not_yaml", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters:\n  snapshotschedule.stork.libopenstorage.org/daily: |\n    schedulePolicyName: [daily\n",
     "bad.yaml:6:52: parameters.snapshotschedule.stork.libopenstorage.org/daily: the value is not YAML (its line 2: end of sequence flow not found); write e.g. \"schedulePolicyName: daily\" on a line of its own"},
    {"px_stork_schedule_scalar", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {snapshotschedule.stork.libopenstorage.org/daily: daily}\n",
     "bad.yaml:5:63: parameters.snapshotschedule.stork.libopenstorage.org/daily: the value must be a mapping of schedulePolicyName, reclaimPolicy and annotations, not a scalar; write e.g. \"schedulePolicyName: daily\" on a line of its own"},
    {"px_stork_schedule_bad_name", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {snapshotschedule.stork.libopenstorage.org/Daily_1: \"schedulePolicyName: daily\"}\n",
     "bad.yaml:5:65: parameters.snapshotschedule.stork.libopenstorage.org/Daily_1: \"Daily_1\" is not a schedule name (it prefixes the snapshots' names): lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, after the '/'"},
    {"px_shared_not_bool", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: s}\nprovisioner: pxd.portworx.com\nparameters: {shared: \"yes\"}\n",
     "bad.yaml:5:22: parameters.shared: \"yes\" must be \"true\" or \"false\""},
    {"svc_headless_node_port", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n  clusterIP: None\n  ports: [{port: 80}]\n",
     "bad.yaml:6:14: spec.clusterIP: may not be set to 'None' for NodePort services; leave it out, or make the service type ClusterIP"},
    {"svc_node_port_on_cluster_ip", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80, nodePort: 30080}]\n",
     "bad.yaml:5:32: spec.ports[0].nodePort: may not be used when `type` is 'ClusterIP'; remove it, or make the service type NodePort"},
    {"svc_unnamed_ports", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{name: a, port: 80}, {port: 81}]\n",
     "bad.yaml:5:32: spec.ports[1].name: a service with several ports must name each of them"},
    {"svc_no_ports", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: x}\n",
     "bad.yaml:5:3: spec.ports: a ClusterIP service needs at least one port (or clusterIP: None for a headless one)"},
    {"svc_bad_cluster_ip", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  clusterIP: 10.43.0.300\n  ports: [{port: 80}]\n",
     "bad.yaml:5:14: spec.clusterIP: \"10.43.0.300\" must be an IPv4 address, \"None\" for a headless service, or left out to have one allocated"},
    {"svc_bad_target_port", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80, targetPort: Web_1}]\n",
     "bad.yaml:5:34: spec.ports[0].targetPort: \"Web_1\" must be a port number 1-65535 or a container port's name (1-15 lowercase letters, digits and '-', with a letter)"},
    {"svc_port_twice", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{name: a, port: 80}, {name: b, port: 80}]\n",
     "bad.yaml:5:48: spec.ports[1].port: port 80/TCP is listed twice"},
    {"svc_external_policy_cluster_ip", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80}]\n  externalTrafficPolicy: Local\n",
     "bad.yaml:6:26: spec.externalTrafficPolicy: may only be set when `type` is 'NodePort' or 'LoadBalancer'"},
    {"yaml_tab", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n\tcontainers: []\n",
     "bad.yaml:5:12: YAML syntax error: illegal map value; this line is indented with a tab, which YAML does not allow: use spaces"},
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

// Found reading upstream: a document's own missing field is reported even
// after an earlier document of the same stream had errors.
TEST(BadInputs, AMissingClaimSizeIsReportedAfterABadNeighbour) {
  const LoadResult r = LoadManifests(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_Name}\n---\n"
      "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\n"
      "spec: {accessModes: [ReadWriteOnce]}\n",
      "two.yaml");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[1].ToString(),
            "two.yaml:8:7: spec.resources.requests.storage: is required: how large a volume to "
            "provision, e.g. 10Gi");
}

// yaml-cpp refuses to recurse past 500 levels ("bad file"); the user is told
// what that means.
TEST(BadInputs, DeepNestingIsAnErrorNotAStackOverflow) {
  for (const char* open_close : {"[]", "{}"}) {
    std::string doc = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: ";
    for (int i = 0; i < 100000; ++i) doc += open_close[0] == '[' ? "[" : "{a: ";
    doc += open_close[0] == '[' ? "" : "1";
    doc += std::string(100000, open_close[1]);
    const LoadResult r = LoadManifests(doc, "deep.yaml");
    ASSERT_EQ(r.errors.size(), 1u) << open_close;
    EXPECT_NE(r.errors[0].message.find("YAML nests deeper than 500 levels here; no manifest needs "
                                       "that, check for unbalanced brackets"),
              std::string::npos)
        << r.errors[0].ToString();
    EXPECT_EQ(r.errors[0].pos.line, 4);
  }
}

// Every mistake of a realistic file is reported, in the file's order.
TEST(BadInputs, TestdataMistakesAllReportedInOrder) {
  const std::string text = ReadSourceFile("tests/model/testdata/bad/mistakes.yaml");
  ASSERT_FALSE(text.empty());
  const LoadResult r = LoadManifests(text, "mistakes.yaml");
  std::vector<std::string> got;
  for (const auto& e : r.errors) got.push_back(e.ToString());
  const std::vector<std::string> want = {
      "mistakes.yaml:7:3: spec.replica: unknown field \"replica\"; did you mean \"replicas\"?",
      "mistakes.yaml:9:5: spec.selector: does not match the template's labels "
      "(spec.template.metadata.labels); the Deployment would never own its pods",
      "mistakes.yaml:18:27: spec.template.spec.containers[0].resources.requests.cpu: \"12x\" is "
      "not a quantity (unknown suffix \"x\"; use Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or "
      "e<exponent>); write e.g. \"250m\", \"1.5\", \"2Gi\", \"500M\"",
      "mistakes.yaml:23:9: metadata.name: \"Sensor_1\" is not a valid name: lowercase letters, "
      "digits, '-' and '.', starting and ending with a letter or digit, at most 253",
      "mistakes.yaml:30:23: spec.containers[0].ports[0].containerPort: 70000 is out of range; it "
      "must be between 1 and 65535",
      "mistakes.yaml:30:40: spec.containers[0].ports[0].protocol: \"tcp\" is not one of TCP, UDP, "
      "SCTP; did you mean \"TCP\"?",
      "mistakes.yaml:32:39: spec.tolerations[0].value: must be empty when operator is Exists",
      "mistakes.yaml:42:45: spec.ingress[0].from[0].ipBlock.except[0]: \"10.1.0.0/24\" must lie "
      "strictly inside cidr \"10.0.0.0/16\"",
      "mistakes.yaml:50:13: spec.ingress[0].action: \"Accept\" is not one of Allow, Deny, Log, Pass",
      "mistakes.yaml:51:15: spec.ingress[0].protocol: \"tcp\" is not a protocol; use TCP, UDP, "
      "ICMP, ICMPv6, SCTP, UDPLite or a number 1-255 (did you mean \"TCP\"?)",
      "mistakes.yaml:57:14: metadata.namespace: StorageClass is cluster-scoped and has no "
      "namespace; remove it",
      "mistakes.yaml:60:9: parameters.repl: \"5\" is not a replica count; use \"1\", \"2\" or \"3\"",
      "mistakes.yaml:61:16: parameters.priority_io: \"urgent\" is not a priority; use high, medium "
      "or low",
  };
  EXPECT_EQ(got, want);
  EXPECT_TRUE(r.objects.empty());
  // A Secret is no mistake: upstream kinds edgebed does not model load with a notice.
  bool noticed = false;
  for (const auto& w : r.warnings)
    noticed |= w.ToString() == "mistakes.yaml:64:7: kind: Secret creds accepted; nothing in edgebed acts on a Secret, "
                               "so it has no effect here";
  EXPECT_TRUE(noticed);
}

}  // namespace
}  // namespace edgebed::model
