// Upstream-style manifests of every kind load into the typed model with
// upstream's defaults.
#include "core/model/loader.h"

#include <gtest/gtest.h>

#include "tests/model/testdata.h"

namespace edgebed::model {
namespace {

template <typename T>
std::vector<T> All(const LoadResult& r) {
  std::vector<T> out;
  for (const auto& o : r.objects) {
    if (const T* t = std::get_if<T>(&o)) out.push_back(*t);
  }
  return out;
}

LoadResult Load(const std::string& yaml) {
  LoadResult r = LoadManifests(yaml, "test.yaml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r;
}

TEST(Loader, NamespaceGetsItsNameLabel) {
  auto r = Load("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: floor-3\n  labels:\n    tier: ops\n");
  auto ns = All<Namespace>(r);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].meta.namespace_, "");
  EXPECT_EQ(ns[0].meta.labels.at("kubernetes.io/metadata.name"), "floor-3");
  EXPECT_EQ(ns[0].meta.labels.at("tier"), "ops");
  EXPECT_EQ(ns[0].meta.pos.ToString(), "test.yaml:1:1");
}

TEST(Loader, NodeWithTopologyTaintsAndDefaultedAllocatable) {
  auto r = Load(R"(apiVersion: v1
kind: Node
metadata:
  name: b2-f7-n4
  labels:
    topology.kubernetes.io/zone: building-2
    edgebed.io/floor: "7"
spec:
  unschedulable: true
  taints:
  - key: node.kubernetes.io/unreachable
    effect: NoExecute
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110", example.com/camera: "2"}
  addresses: [{type: InternalIP, address: 10.0.0.4}]
)");
  auto nodes = All<Node>(r);
  ASSERT_EQ(nodes.size(), 1u);
  const Node& n = nodes[0];
  EXPECT_TRUE(n.unschedulable);
  ASSERT_EQ(n.taints.size(), 1u);
  EXPECT_EQ(n.taints[0].effect, "NoExecute");
  EXPECT_EQ(n.capacity.at("memory").Value(), 8LL << 30);
  EXPECT_EQ(n.allocatable.at("example.com/camera").Value(), 2);  // defaulted from capacity
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].ToString(), "test.yaml:15:3: status.addresses: ignored: reported by a running node");
}

// A pod taken from a running cluster keeps its addresses; the rest of its
// status is said to be ignored.
TEST(Loader, PodStatusGivesItsAddresses) {
  LoadResult r = Load(R"(apiVersion: v1
kind: Pod
metadata: {name: broker, namespace: floor-1}
spec:
  containers: [{name: mqtt, image: eclipse-mosquitto:2}]
status:
  phase: Running
  podIP: 10.42.1.7
  podIPs: [{ip: 10.42.1.7}, {ip: "fd00::7"}]
)");
  auto pods = All<Pod>(r);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].pod_ips, (std::vector<std::string>{"10.42.1.7", "fd00::7"}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].path, "status.phase");

  LoadResult bad = LoadManifests(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n"
      "status: {podIP: 10.42.1.300}\n",
      "bad.yaml");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].ToString(),
            "bad.yaml:5:17: status.podIP: \"10.42.1.300\" is not an IP address; write e.g. "
            "\"10.42.0.7\"");
}

TEST(Loader, PodWithEverySchedulingField) {
  auto r = Load(R"(apiVersion: v1
kind: Pod
metadata:
  name: inference-0
  namespace: floor-1
  labels: {app: inference}
spec:
  priorityClassName: high
  priority: 1000
  preemptionPolicy: Never
  nodeSelector: {accelerator: jetson}
  serviceAccountName: vision
  tolerations:
  - {key: edgebed.io/gpu, operator: Exists, effect: NoSchedule}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 60}
  - {operator: Exists}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: edgebed.io/floor, operator: In, values: ["1", "2"]}
          - {key: cpu-count, operator: Gt, values: ["2"]}
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 10
        preference:
          matchExpressions: [{key: zone, operator: Exists}]
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: inference}}
        topologyKey: kubernetes.io/hostname
    podAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 50
        podAffinityTerm:
          labelSelector:
            matchExpressions: [{key: app, operator: In, values: [broker]}]
          namespaceSelector: {}
          topologyKey: topology.kubernetes.io/zone
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: edgebed.io/floor
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {app: inference}}
  containers:
  - name: server
    image: edgebed/inference:1.4
    command: [/bin/serve]
    args: ["--port", "8500"]
    env: [{name: MODEL, value: /models/v3}]
    ports: [{name: grpc, containerPort: 8500}, {containerPort: 9000, protocol: UDP}]
    resources:
      limits: {cpu: "2", memory: 1Gi, nvidia.com/gpu: "1"}
      requests: {cpu: 500m}
    livenessProbe: {httpGet: {path: /healthz, port: 8500}}
  volumes:
  - name: model
    persistentVolumeClaim: {claimName: model, readOnly: true}
  - name: scratch
    emptyDir: {}
)");
  auto pods = All<Pod>(r);
  ASSERT_EQ(pods.size(), 1u);
  const PodSpec& s = pods[0].spec;
  EXPECT_EQ(s.priority, 1000);
  EXPECT_EQ(s.preemption_policy, "Never");
  EXPECT_EQ(s.scheduler_name, "default-scheduler");
  EXPECT_EQ(s.restart_policy, "Always");
  EXPECT_EQ(s.tolerations.size(), 3u);
  EXPECT_EQ(s.tolerations[1].toleration_seconds, 60);
  EXPECT_EQ(s.tolerations[2].op, "Exists");
  ASSERT_TRUE(s.affinity.node_affinity);
  EXPECT_EQ(s.affinity.node_affinity->required[0].match_expressions[1].op, "Gt");
  EXPECT_EQ(s.affinity.node_affinity->preferred[0].weight, 10);
  ASSERT_TRUE(s.affinity.pod_anti_affinity);
  EXPECT_EQ(s.affinity.pod_anti_affinity->required[0].topology_key, "kubernetes.io/hostname");
  EXPECT_TRUE(s.affinity.pod_affinity->preferred[0].term.namespace_selector->Empty());
  EXPECT_EQ(s.topology_spread_constraints[0].when_unsatisfiable, "DoNotSchedule");
  const Container& c = s.containers[0];
  EXPECT_EQ(c.ports[0].protocol, "TCP");
  EXPECT_EQ(c.ports[1].protocol, "UDP");
  EXPECT_EQ(c.requests.at("cpu").MilliValue(), 500);
  EXPECT_EQ(c.requests.at("memory").Value(), 1LL << 30);  // defaulted from the limit
  EXPECT_EQ(c.requests.at("nvidia.com/gpu").Value(), 1);
  EXPECT_EQ(s.volumes[0].claim_name, "model");
  EXPECT_TRUE(s.volumes[0].read_only);
  EXPECT_FALSE(s.volumes[1].claim_name);
  ASSERT_EQ(r.warnings.size(), 2u);  // livenessProbe, emptyDir
  EXPECT_EQ(r.warnings[0].path, "spec.containers[0].livenessProbe");
  EXPECT_EQ(r.warnings[1].path, "spec.volumes[1].emptyDir");
}

TEST(Loader, DeploymentDefaultsAndStrategy) {
  auto r = Load(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: broker}
spec:
  selector: {matchLabels: {app: broker}}
  template:
    metadata: {labels: {app: broker, version: "2"}}
    spec:
      containers: [{name: mqtt, image: eclipse-mosquitto}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sensors, namespace: floor-2}
spec:
  replicas: 5
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 2, maxUnavailable: 10%}}
  selector:
    matchExpressions: [{key: app, operator: In, values: [sensor, gateway]}]
  template:
    metadata: {labels: {app: sensor}}
    spec:
      containers: [{name: s, image: sensor}]
)");
  auto deps = All<Deployment>(r);
  ASSERT_EQ(deps.size(), 2u);
  EXPECT_EQ(deps[0].meta.namespace_, "default");
  EXPECT_EQ(deps[0].replicas, 1);
  EXPECT_EQ(deps[0].max_surge.ToString(), "25%");
  EXPECT_EQ(deps[1].replicas, 5);
  EXPECT_TRUE(deps[1].max_surge.is_int);
  EXPECT_EQ(deps[1].max_surge.int_value, 2);
  EXPECT_EQ(deps[1].max_unavailable.ToString(), "10%");
}

// The example of the Kubernetes NetworkPolicy documentation, in substance.
TEST(Loader, KubernetesNetworkPolicyAsDocumentedUpstream) {
  auto r = Load(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 32000
      endPort: 32768
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-egress-rules}
spec:
  podSelector: {}
  egress:
  - to:
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchLabels: {app: api}}
    ports: [{port: http}, {protocol: SCTP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all-ingress}
spec:
  podSelector: {}
)");
  auto policies = All<NetworkPolicy>(r);
  ASSERT_EQ(policies.size(), 3u);
  const NetworkPolicy& p = policies[0];
  EXPECT_EQ(p.pod_selector.match_labels.at("role"), "db");
  ASSERT_EQ(p.ingress[0].peers.size(), 3u);
  EXPECT_EQ(p.ingress[0].peers[0].ip_block->except[0], "172.17.1.0/24");
  EXPECT_EQ(p.ingress[0].ports[0].port->int_value, 6379);
  EXPECT_EQ(p.egress[0].ports[0].end_port, 32768);
  // policyTypes defaulting: Ingress always, Egress because of egress rules.
  EXPECT_EQ(policies[1].policy_types, (std::vector<std::string>{"Ingress", "Egress"}));
  EXPECT_TRUE(policies[1].egress[0].peers[0].namespace_selector.has_value());
  EXPECT_TRUE(policies[1].egress[0].peers[0].pod_selector.has_value());
  EXPECT_FALSE(policies[1].egress[0].ports[0].port->is_int);
  EXPECT_EQ(policies[1].egress[0].ports[0].protocol, "TCP");
  EXPECT_EQ(policies[1].egress[0].ports[1].protocol, "SCTP");
  EXPECT_EQ(policies[2].policy_types, (std::vector<std::string>{"Ingress"}));
}

TEST(Loader, CalicoPoliciesTiersAndDefaults) {
  auto r = Load(R"(apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.quarantine}
spec:
  tier: security
  order: 1.5
  selector: quarantine == 'true' && !has(exempt)
  namespaceSelector: all()
  types: [Ingress, Egress]
  ingress:
  - action: Log
  - action: Deny
    protocol: ICMP
    icmp: {type: 8, code: 0}
    source: {nets: [0.0.0.0/0], notNets: ["10.0.0.0/8"]}
  egress:
  - action: Allow
    protocol: TCP
    destination:
      selector: role in {'db', 'cache'}
      ports: [5432, "6379:6380", redis]
      serviceAccounts: {names: [reporter], selector: team == "a"}
  - action: Pass
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-tcp-6379, namespace: production}
spec:
  selector: role == 'database'
  ingress:
  - action: Allow
    protocol: 6
    source: {selector: role == 'frontend', namespaceSelector: has(projectcalico.org/name)}
    destination: {ports: [6379]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: egress-only, namespace: production}
spec:
  egress: [{action: Deny, protocol: UDP, notProtocol: TCP}]
)");
  auto tiers = All<Tier>(r);
  ASSERT_EQ(tiers.size(), 1u);
  EXPECT_EQ(tiers[0].default_action, "Deny");
  auto policies = All<CalicoPolicy>(r);
  ASSERT_EQ(policies.size(), 3u);
  const CalicoPolicy& g = policies[0];
  EXPECT_TRUE(g.global);
  EXPECT_EQ(g.tier, "security");
  EXPECT_EQ(g.order, 1.5);
  EXPECT_EQ(g.ingress[1].icmp->type, 8);
  EXPECT_EQ(g.ingress[1].source.not_nets[0], "10.0.0.0/8");
  const auto& ports = g.egress[0].destination.ports;
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[1].first, 6379);
  EXPECT_EQ(ports[1].last, 6380);
  EXPECT_EQ(ports[2].name, "redis");
  EXPECT_EQ(g.egress[0].destination.service_account_names[0], "reporter");
  const CalicoPolicy& n = policies[1];
  EXPECT_FALSE(n.global);
  EXPECT_EQ(n.tier, "default");
  EXPECT_FALSE(n.order);
  EXPECT_EQ(n.types, (std::vector<std::string>{"Ingress"}));
  EXPECT_EQ(n.ingress[0].protocol->int_value, 6);
  EXPECT_EQ(policies[2].types, (std::vector<std::string>{"Egress"}));
}

TEST(Loader, PortworxStorageClassClaimsAndSnapshots) {
  auto r = Load(R"(apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: px-db}
provisioner: pxd.portworx.com
parameters:
  repl: "3"
  io_profile: db_remote
  priority_io: high
  sharedv4: "false"
  snap_schedule: "periodic=60,10;daily=02:30,7;weekly=sunday@03:00,4;monthly=1@04:00,12"
  fs: ext4
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
allowedTopologies:
- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [building-1]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: floor-1}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: px-db
  resources: {requests: {storage: 10Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: restored}
spec:
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 500M}}
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: nightly}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: nightly, namespace: floor-1}
spec:
  volumeSnapshotClassName: px-csi-snapclass
  source: {persistentVolumeClaimName: data}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: critical}
value: 1000000
globalDefault: false
)");
  auto classes = All<StorageClass>(r);
  ASSERT_EQ(classes.size(), 1u);
  const StorageClass& sc = classes[0];
  EXPECT_EQ(sc.portworx->repl, 3);
  EXPECT_EQ(sc.portworx->io_profile, "db_remote");
  EXPECT_EQ(sc.portworx->priority_io, "high");
  EXPECT_FALSE(sc.portworx->sharedv4);
  ASSERT_EQ(sc.portworx->snapshot_schedules.size(), 4u);
  EXPECT_EQ(sc.portworx->snapshot_schedules[0].interval_minutes, 60);
  EXPECT_EQ(sc.portworx->snapshot_schedules[0].retain, 10);
  EXPECT_EQ(sc.portworx->snapshot_schedules[1].hour, 2);
  EXPECT_EQ(sc.portworx->snapshot_schedules[1].minute, 30);
  EXPECT_EQ(sc.portworx->snapshot_schedules[2].weekday, "sunday");
  EXPECT_EQ(sc.portworx->snapshot_schedules[2].day_of_week, 0);
  EXPECT_EQ(sc.portworx->snapshot_schedules[1].day_of_week, -1);  // daily
  EXPECT_EQ(sc.portworx->snapshot_schedules[3].day_of_month, 1);
  EXPECT_EQ(sc.parameters.at("fs"), "ext4");  // other parameters are kept
  EXPECT_EQ(sc.reclaim_policy, "Delete");
  EXPECT_EQ(sc.volume_binding_mode, "WaitForFirstConsumer");
  EXPECT_EQ(sc.allowed_topologies[0].values[0], "building-1");
  auto claims = All<PersistentVolumeClaim>(r);
  ASSERT_EQ(claims.size(), 2u);
  EXPECT_EQ(claims[0].storage->Value(), 10LL << 30);
  EXPECT_EQ(claims[0].volume_mode, "Filesystem");
  EXPECT_FALSE(claims[1].storage_class_name);  // the default class
  EXPECT_EQ(claims[1].data_source_kind, "VolumeSnapshot");
  auto snaps = All<VolumeSnapshot>(r);
  EXPECT_EQ(snaps[0].source_pvc, "data");
  EXPECT_EQ(All<PriorityClass>(r)[0].preemption_policy, "PreemptLowerPriority");
}

// The SchedulePolicy examples of Stork's and Portworx's documentation load
// as written.
TEST(Loader, StorkSchedulePoliciesAsDocumentedUpstream) {
  LoadResult r = Load(R"(apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata:
  name: daily
policy:
  daily:
    time: "10:14PM"
    retain: 3
---
apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata:
  name: policy1
policy:
  interval:
    intervalMinutes: 1
  daily:
    time: "10:14PM"
  weekly:
    day: "Thursday"
    time: "10:13PM"
  monthly:
    date: 14
    time: "8:05PM"
)");
  EXPECT_TRUE(r.warnings.empty());
  auto policies = All<SchedulePolicy>(r);
  ASSERT_EQ(policies.size(), 2u);
  const SchedulePolicy& daily = policies[0];
  EXPECT_EQ(daily.meta.name, "daily");
  EXPECT_EQ(daily.meta.namespace_, "");  // cluster-scoped
  EXPECT_FALSE(daily.interval);
  EXPECT_FALSE(daily.weekly);
  EXPECT_FALSE(daily.monthly);
  ASSERT_TRUE(daily.daily);
  EXPECT_EQ(daily.daily->time.text, "10:14PM");
  EXPECT_EQ(daily.daily->time.hour, 22);
  EXPECT_EQ(daily.daily->time.minute, 14);
  EXPECT_EQ(daily.daily->retain, 3);
  EXPECT_EQ(daily.daily->force_full_weekday, -1);
  EXPECT_EQ(Summarize(r.objects[0]), "SchedulePolicy daily: daily 10:14PM keep 3");

  const SchedulePolicy& all = policies[1];
  ASSERT_TRUE(all.interval && all.daily && all.weekly && all.monthly);
  EXPECT_EQ(all.interval->minutes, 1);
  EXPECT_EQ(all.interval->retain, 0);  // Stork's default, 10, applies
  EXPECT_EQ(all.weekly->day, "Thursday");
  EXPECT_EQ(all.weekly->weekday, 4);
  EXPECT_EQ(all.weekly->time.hour, 22);
  EXPECT_EQ(all.weekly->time.minute, 13);
  EXPECT_EQ(all.monthly->date, 14);
  EXPECT_EQ(all.monthly->time.hour, 20);
  EXPECT_EQ(all.monthly->time.minute, 5);
  EXPECT_EQ(Summarize(r.objects[1]),
            "SchedulePolicy policy1: interval 1m keep 10, daily 10:14PM keep 30, weekly Thursday "
            "10:13PM keep 7, monthly on day 14 8:05PM keep 12");
}

// Times are read as Go's time.Parse reads time.Kitchen, then its lowercase
// form: Stork tries both.
TEST(Loader, StorkTimesAreGoKitchenTimes) {
  const struct {
    const char* text;
    int hour, minute;  // -1: refused
  } kCases[] = {
      {"10:14PM", 22, 14}, {"12:04pm", 12, 4}, {"12:04PM", 12, 4}, {"12:04AM", 0, 4},
      {"9:05AM", 9, 5},    {"09:05am", 9, 5},  {"1:00PM", 13, 0},  {"11:59PM", 23, 59},
      {"0:30AM", 0, 30},   {"0:30PM", 12, 30},  // Go lets hour 0 through
      {"22:14", -1, 0},    {"10:14", -1, 0},   {"13:00PM", -1, 0}, {"10:14 PM", -1, 0},
      {"10:14Pm", -1, 0},  {"10:4PM", -1, 0},  {"10:60PM", -1, 0}, {"1014PM", -1, 0},
      {"010:14PM", -1, 0}, {"10:14PMX", -1, 0}, {" 9:05AM", -1, 0}, {"", -1, 0},
      {"10:14p.m.", -1, 0},
  };
  for (const auto& c : kCases) {
    const std::string yaml = std::string("apiVersion: stork.libopenstorage.org/v1alpha1\n"
                                         "kind: SchedulePolicy\nmetadata: {name: p}\n"
                                         "policy: {daily: {time: \"") +
                             c.text + "\"}}\n";
    const LoadResult r = LoadManifests(yaml, "t.yaml");
    if (c.hour < 0) {
      ASSERT_EQ(r.errors.size(), 1u) << c.text;
      EXPECT_EQ(r.errors[0].ToString(),
                std::string("t.yaml:4:24: policy.daily.time: \"") + c.text +
                    "\" is not a time like 10:14PM (Go's time.Kitchen, as Stork reads it); write "
                    "the hour 1-12, a colon, two digits of minutes, then AM or PM");
      continue;
    }
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.errors[0].ToString();
    const SchedulePolicy& p = std::get<SchedulePolicy>(r.objects[0]);
    EXPECT_EQ(p.daily->time.hour, c.hour) << c.text;
    EXPECT_EQ(p.daily->time.minute, c.minute) << c.text;
    EXPECT_EQ(p.daily->time.text, c.text);
  }
}

// Stork's day names and abbreviations, in any case (storkctl lowercases).
TEST(Loader, StorkDaysInAnyCase) {
  const std::pair<const char*, int> kDays[] = {
      {"Sunday", 0}, {"sun", 0},   {"MONDAY", 1}, {"Mon", 1},   {"tuesday", 2}, {"Tue", 2},
      {"Wed", 3},    {"wednesday", 3}, {"Thu", 4}, {"thur", 4}, {"THURS", 4},  {"Friday", 5},
      {"fri", 5},    {"Saturday", 6}, {"sat", 6}};
  for (const auto& [day, weekday] : kDays) {
    const LoadResult r = Load(std::string("apiVersion: stork.libopenstorage.org/v1alpha1\n"
                                          "kind: SchedulePolicy\nmetadata: {name: p}\npolicy:\n"
                                          "  weekly: {day: ") +
                              day + ", time: \"3:00AM\"}\n  daily: {time: \"1:00AM\", "
                              "forceFullSnapshotDay: " + day + "}\n");
    ASSERT_EQ(r.objects.size(), 1u) << day;
    const SchedulePolicy& p = std::get<SchedulePolicy>(r.objects[0]);
    EXPECT_EQ(p.weekly->weekday, weekday) << day;
    EXPECT_EQ(p.weekly->day, day);
    EXPECT_EQ(p.daily->force_full_weekday, weekday) << day;
    EXPECT_EQ(p.daily->force_full_snapshot_day, day);
  }
}

// A rule's options go to the driver upstream: accepted, said to be ignored.
TEST(Loader, StorkRuleOptionsAndStatusAreIgnored) {
  LoadResult r = Load(R"(apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata: {name: weekly}
policy:
  weekly:
    day: Sunday
    time: "3:00AM"
    retain: 0
    options: {portworx/snapshot-type: cloud}
status: {}
)");
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(std::get<SchedulePolicy>(r.objects[0]).weekly->retain, 0);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].ToString(),
            "test.yaml:9:5: policy.weekly.options: ignored: options go to the storage driver, "
            "and edgebed's reads none");
  EXPECT_EQ(r.warnings[1].path, "status");

  LoadResult bad = LoadManifests(
      "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\n"
      "policy: {interval: {intervalMinutes: 5, options: [a]}}\n",
      "bad.yaml");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].ToString(),
            "bad.yaml:4:50: policy.interval.options: must be a mapping of strings, not a list");
}

// The StorageClass of Portworx's scheduled-snapshot documentation: each
// "snapshotschedule.stork.libopenstorage.org/<name>" parameter is a Stork
// schedule, its value a YAML document of its own.
TEST(Loader, StorkSnapshotSchedulesOfAStorageClass) {
  LoadResult r = Load(R"(kind: StorageClass
apiVersion: storage.k8s.io/v1
metadata:
  name: px-sc-cloud
provisioner: kubernetes.io/portworx-volume
parameters:
  repl: "2"
  snapshotschedule.stork.libopenstorage.org/interval-schedule: |
    schedulePolicyName: intervalpolicy
    annotations:
      portworx/snapshot-type: cloud
  snapshotschedule.stork.libopenstorage.org/daily-schedule: |
    schedulePolicyName: daily
    annotations:
      portworx/snapshot-type: local
)");
  EXPECT_TRUE(r.warnings.empty());
  auto classes = All<StorageClass>(r);
  ASSERT_EQ(classes.size(), 1u);
  const StorageClass& sc = classes[0];
  ASSERT_TRUE(sc.portworx);
  EXPECT_EQ(sc.portworx->repl, 2);
  // In parameter order, which is the name's.
  const std::vector<StorkSchedule>& schedules = sc.portworx->stork_schedules;
  ASSERT_EQ(schedules.size(), 2u);
  EXPECT_EQ(schedules[0].name, "daily-schedule");
  EXPECT_EQ(schedules[0].policy, "daily");
  EXPECT_FALSE(schedules[0].cloud);
  EXPECT_EQ(schedules[0].reclaim_policy, "Delete");
  EXPECT_EQ(schedules[1].name, "interval-schedule");
  EXPECT_EQ(schedules[1].policy, "intervalpolicy");
  EXPECT_TRUE(schedules[1].cloud);
  EXPECT_EQ(schedules[1].cloud_cred_id, "");
  EXPECT_EQ(schedules[1].annotations,
            (std::map<std::string, std::string>{{"portworx/snapshot-type", "cloud"}}));
  // The parameter itself stays as written.
  EXPECT_EQ(sc.parameters.at("snapshotschedule.stork.libopenstorage.org/daily-schedule"),
            "schedulePolicyName: daily\nannotations:\n  portworx/snapshot-type: local\n");
  EXPECT_EQ(Summarize(r.objects[0]),
            "StorageClass px-sc-cloud: kubernetes.io/portworx-volume, repl 2, priority_io low, 2 "
            "Stork schedules (1 to the cloud)");

  // Every key the value takes, in flow style too; no annotations: local.
  LoadResult full = Load(R"(apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: px-backed-up}
provisioner: pxd.portworx.com
parameters:
  shared: "true"
  snapshotschedule.stork.libopenstorage.org/weekly: "{schedulePolicyName: weekly, reclaimPolicy: Retain, annotations: {portworx/snapshot-type: cloud, portworx/cloud-cred-id: 0f3a-77}}"
  snapshotschedule.stork.libopenstorage.org/often: "schedulePolicyName: every-5"
)");
  classes = All<StorageClass>(full);
  ASSERT_EQ(classes.size(), 1u);
  EXPECT_TRUE(classes[0].portworx->sharedv4);  // "shared" is Portworx's other spelling
  const std::vector<StorkSchedule>& more = classes[0].portworx->stork_schedules;
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].name, "often");
  EXPECT_FALSE(more[0].cloud);
  EXPECT_EQ(more[1].reclaim_policy, "Retain");
  EXPECT_TRUE(more[1].cloud);
  EXPECT_EQ(more[1].cloud_cred_id, "0f3a-77");
  EXPECT_EQ(Summarize(full.objects[0]),
            "StorageClass px-backed-up: pxd.portworx.com, repl 1, sharedv4, priority_io low, 2 "
            "Stork schedules (1 to the cloud)");

  // Another provisioner's parameters are its own business.
  LoadResult other = Load(
      "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: o}\n"
      "provisioner: rancher.io/local-path\n"
      "parameters: {snapshotschedule.stork.libopenstorage.org/x: \"not: [yaml\"}\n");
  EXPECT_EQ(other.objects.size(), 1u);
}

TEST(Loader, ListsEmptyDocumentsAndFlowStyle) {
  auto r = Load(R"(---
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: a}}
- {apiVersion: v1, kind: Namespace, metadata: {name: b}}
---
)");
  EXPECT_EQ(All<Namespace>(r).size(), 2u);
}

TEST(Loader, GoodDocumentsSurviveABadNeighbour) {
  LoadResult r = LoadManifests(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: good}\n---\n"
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_Name}\n",
      "mixed.yaml");
  EXPECT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.errors.size(), 1u);
}

TEST(Loader, CalicoNetworkSetsKeepTheirNetsAndLabels) {
  LoadResult r = Load(R"(apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: cloud, labels: {role: cloud}}
spec: {nets: [203.0.113.0/24, 198.51.100.7]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: floor-sensors, namespace: floor-1, labels: {role: sensors}}
spec:
  nets: [10.20.1.0/24]
)");
  auto sets = All<NetworkSet>(r);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_TRUE(sets[0].global);
  EXPECT_EQ(sets[0].nets, (std::vector<std::string>{"203.0.113.0/24", "198.51.100.7/32"}));
  EXPECT_EQ(sets[0].meta.labels.at("role"), "cloud");
  EXPECT_FALSE(sets[1].global);
  EXPECT_EQ(sets[1].meta.namespace_, "floor-1");
  EXPECT_EQ(Summarize(r.objects[0]), "GlobalNetworkSet cloud: 2 nets: 203.0.113.0/24, 198.51.100.7/32");

  LoadResult bad = LoadManifests(
      "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: n}\nspec: {nets: [cloud]}\n",
      "bad.yaml");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].ToString(),
            "bad.yaml:4:15: spec.nets[0]: \"cloud\" is neither a CIDR nor an IP address");
}

// The shipped manifests (but floor.yaml, a template the scenario expands:
// tests/sim/scenario_test.cc) and the realistic test manifests load without an
// error, every object of them.
// What a real deployment's files hold beside the kinds edgebed models loads
// with a one-line notice each, and the rest of the file with it; a kind no
// one serves is still an error that names the kinds edgebed loads.
TEST(Loader, UpstreamKindsWithoutAnEffectHereLoadWithANotice) {
  const LoadResult r = LoadManifests(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: broker-config, namespace: building-services}
data: {mosquitto.conf: "listener 1883"}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: dashboard, namespace: building-services}
spec:
  rules: [{host: dashboard.local}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: inference, namespace: building-services}
spec: {minReplicas: 1, maxReplicas: 4}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: default-ipv4}
spec: {cidr: 10.42.0.0/16}
---
apiVersion: v1
kind: Namespace
metadata: {name: building-services}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
)",
                                     "deploy.yaml");
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(KindOf(r.objects[0]), "Namespace");
  std::vector<std::string> warnings;
  for (const auto& w : r.warnings) warnings.push_back(w.ToString());
  EXPECT_EQ(warnings,
            (std::vector<std::string>{
                "deploy.yaml:2:7: kind: ConfigMap building-services/broker-config accepted; nothing in edgebed acts "
                "on a ConfigMap, so it has no effect here",
                "deploy.yaml:7:7: kind: Ingress building-services/dashboard accepted; nothing in edgebed acts on an "
                "Ingress, so it has no effect here",
                "deploy.yaml:13:7: kind: ClusterRole reader accepted; nothing in edgebed acts on a ClusterRole, so it "
                "has no effect here",
                "deploy.yaml:18:7: kind: HorizontalPodAutoscaler building-services/inference accepted; nothing in "
                "edgebed acts on a HorizontalPodAutoscaler, so it has no effect here",
                "deploy.yaml:23:7: kind: IPPool default-ipv4 accepted; nothing in edgebed acts on an IPPool, so it "
                "has no effect here"}));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString().rfind("deploy.yaml:32:7: kind: unknown kind \"Widget\"; edgebed loads CronJob, DaemonSet, Deployment, ", 0),
            0u)
      << r.errors[0].ToString();
}

TEST(Loader, ShippedManifestsLoadClean) {
  const std::pair<const char*, size_t> files[] = {
      {"scenarios/smart-building/00-namespaces.yaml", 2},
      {"scenarios/smart-building/10-storage.yaml", 0},
      {"scenarios/smart-building/20-workloads.yaml", 0},
      {"scenarios/smart-building/30-policy.yaml", 0},
      {"tests/model/testdata/calico-policies.yaml", 7},
      {"tests/model/testdata/cluster.yaml", 7},
      {"tests/model/testdata/list.yaml", 2},
      {"tests/model/testdata/network-policies.yaml", 3},
      {"tests/model/testdata/storage.yaml", 11},
      {"tests/model/testdata/workloads.yaml", 3},
      {"tests/model/testdata/workload_kinds.yaml", 2},
      {"tests/model/testdata/batch_kinds.yaml", 2},
  };
  for (const auto& [name, objects] : files) {
    const std::string text = ReadSourceFile(name);
    ASSERT_FALSE(text.empty()) << name;
    LoadResult r = LoadManifests(text, name);
    EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
    if (objects > 0) {
      EXPECT_EQ(r.objects.size(), objects) << name;
    } else {
      EXPECT_FALSE(r.objects.empty()) << name;
    }
  }
}

TEST(Loader, DaemonSetAndStatefulSetAsTheDocumentationWritesThem) {
  const std::string name = "tests/model/testdata/workload_kinds.yaml";
  const LoadResult r = LoadManifests(ReadSourceFile(name), name);
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  ASSERT_EQ(r.objects.size(), 2u);
  const auto& ds = std::get<DaemonSet>(r.objects[0]);
  EXPECT_EQ(ds.meta.namespace_, "kube-system");
  EXPECT_EQ(ds.pod_template.spec.tolerations.size(), 2u);
  EXPECT_EQ(ds.update_strategy, "RollingUpdate");
  EXPECT_TRUE(ds.max_unavailable.is_int && ds.max_unavailable.int_value == 1);  // upstream's default
  const auto& ss = std::get<StatefulSet>(r.objects[1]);
  EXPECT_EQ(ss.meta.namespace_, "default");
  EXPECT_EQ(ss.service_name, "nginx");
  EXPECT_EQ(ss.replicas, 3);
  EXPECT_EQ(ss.min_ready_seconds, 10);
  ASSERT_EQ(ss.volume_claim_templates.size(), 1u);
  EXPECT_EQ(ss.volume_claim_templates[0].meta.name, "www");
  EXPECT_EQ(*ss.volume_claim_templates[0].storage_class_name, "my-storage-class");
  // The pods and claims it stands for, as the cluster makes them.
  const std::vector<Pod> pods = StatefulPods(ss);
  ASSERT_EQ(pods.size(), 3u);
  EXPECT_EQ(pods[2].meta.name, "web-2");
  EXPECT_EQ(pods[2].meta.labels.at("apps.kubernetes.io/pod-index"), "2");
  ASSERT_EQ(pods[2].spec.volumes.size(), 1u);
  EXPECT_EQ(*pods[2].spec.volumes[0].claim_name, "www-web-2");
  EXPECT_EQ(StatefulClaims(ss).at(1).meta.name, "www-web-1");
  EXPECT_EQ(StatefulClaims(ss).at(1).meta.labels.at("app"), "nginx");
}

TEST(Loader, JobAndCronJobAsTheDocumentationWritesThem) {
  const std::string name = "tests/model/testdata/batch_kinds.yaml";
  const LoadResult r = LoadManifests(ReadSourceFile(name), name);
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  ASSERT_EQ(r.objects.size(), 2u);
  const auto& pi = std::get<Job>(r.objects[0]);
  EXPECT_EQ(pi.meta.namespace_, "default");
  EXPECT_EQ(pi.spec.backoff_limit, 4);
  EXPECT_EQ(pi.spec.completions, 1);  // neither written: one pod that must succeed
  EXPECT_EQ(pi.spec.parallelism, 1);
  EXPECT_EQ(pi.spec.completion_mode, "NonIndexed");
  EXPECT_EQ(pi.spec.pod_template.spec.restart_policy, "Never");
  EXPECT_EQ(pi.spec.pod_template.spec.containers.at(0).command.size(), 4u);
  const auto& hello = std::get<CronJob>(r.objects[1]);
  EXPECT_EQ(hello.schedule, "* * * * *");
  EXPECT_EQ(hello.concurrency_policy, "Allow");
  EXPECT_EQ(hello.successful_jobs_history_limit, 3);
  EXPECT_EQ(hello.failed_jobs_history_limit, 1);
  EXPECT_FALSE(hello.suspend);
  EXPECT_EQ(hello.job_template.backoff_limit, 6);
  EXPECT_EQ(hello.job_template.pod_template.spec.restart_policy, "OnFailure");
  // The one warning is the container's imagePullPolicy, which is not modelled.
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].path.find("imagePullPolicy"), std::string::npos);
  // The pods the Job starts with, as the offline tools see them.
  const std::vector<Pod> pods = JobPods(pi);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].meta.labels.at("batch.kubernetes.io/job-name"), "pi");
}

TEST(Loader, AJobWithParallelismAloneIsAWorkQueue) {
  const LoadResult r = LoadManifests(R"(apiVersion: batch/v1
kind: Job
metadata: {name: q}
spec:
  parallelism: 3
  template:
    spec: {restartPolicy: Never, containers: [{name: c}]}
)", "q.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  const auto& job = std::get<Job>(r.objects[0]);
  EXPECT_FALSE(job.spec.completions.has_value());
  EXPECT_EQ(JobPods(job).size(), 3u);
}

TEST(Loader, ACronJobInAnotherTimeZoneLoadsWithAWarningThatItRunsInUtc) {
  const LoadResult r = LoadManifests(R"(apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  schedule: "0 8 * * MON"
  timeZone: Europe/Berlin
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: OnFailure, containers: [{name: c}]}
)", "c.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].ToString(),
            "c.yaml:6:13: spec.timeZone: \"Europe/Berlin\": edgebed evaluates schedules in UTC only; the schedule "
            "runs as if it said Etc/UTC (shift its hours, or write timeZone: Etc/UTC)");
}

}  // namespace
}  // namespace edgebed::model
