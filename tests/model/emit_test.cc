// The emitter's promise: whatever the loader produces, ToYaml writes as a
// manifest that loads back to the same object, field for field, with no
// errors and no warnings, and that emits again to the same bytes.
#include "core/model/emit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "core/model/loader.h"
#include "tests/model/testdata.h"

namespace edgebed::model {
namespace {

// Walks two values of one type in step and notes every field where they
// differ. It also notes, per struct field ("Toleration.op"), whether any
// value it saw differed from that field's default, so that a test can tell
// its manifests exercise every field (a field never set proves nothing).
class FieldWalk {
 public:
  std::vector<std::string> differences;
  std::map<std::string, bool> ever_set;  // "Struct.field" -> some value was not the default

  void WalkObject(const Object& a, const Object& b) {
    static const char* const kRoots[] = {
        "Namespace",   "ServiceAccount", "Node",         "Pod",         "Service",
        "Deployment",  "DaemonSet",      "StatefulSet", "Job", "CronJob", "NetworkPolicy",  "CalicoPolicy", "Tier",
        "NetworkSet",  "StorageClass",   "PersistentVolumeClaim",
        "VolumeSnapshot", "PriorityClass", "SchedulePolicy", "KubeSchedulerConfiguration"};
    static_assert(std::size(kRoots) == std::variant_size_v<Object>);
    if (a.index() != b.index()) {
      differences.push_back("kind " + KindOf(a) + " became " + KindOf(b));
      return;
    }
    std::visit([&](const auto& typed) {
      using T = std::decay_t<decltype(typed)>;
      Walk(kRoots[a.index()], kRoots[a.index()], typed, std::get<T>(b), T{});
    }, a);
  }

 private:
  void Note(const std::string& field, bool set) { ever_set[field] |= set; }

  template <typename T>
  void Leaf(const std::string& path, const std::string& field, const T& a, const T& b,
            const T& def, const std::string& shown_a, const std::string& shown_b) {
    Note(field, !(a == def));
    if (!(a == b)) differences.push_back(path + ": " + shown_a + " became " + shown_b);
  }
  void Walk(const std::string& path, const std::string& field, const std::string& a,
            const std::string& b, const std::string& def) {
    Leaf(path, field, a, b, def, "\"" + a + "\"", "\"" + b + "\"");
  }
  void Walk(const std::string& path, const std::string& field, int64_t a, int64_t b, int64_t def) {
    Leaf(path, field, a, b, def, std::to_string(a), std::to_string(b));
  }
  void Walk(const std::string& path, const std::string& field, int32_t a, int32_t b, int32_t def) {
    Walk(path, field, int64_t{a}, int64_t{b}, int64_t{def});
  }
  void Walk(const std::string& path, const std::string& field, bool a, bool b, bool def) {
    Leaf(path, field, a, b, def, a ? "true" : "false", b ? "true" : "false");
  }
  void Walk(const std::string& path, const std::string& field, double a, double b, double def) {
    std::ostringstream shown_a, shown_b;
    shown_a.precision(17);
    shown_b.precision(17);
    shown_a << a;
    shown_b << b;
    Leaf(path, field, a, b, def, shown_a.str(), shown_b.str());
  }
  void Walk(const std::string& path, const std::string& field, const Quantity& a,
            const Quantity& b, const Quantity& def) {
    Leaf(path, field, a, b, def, a.ToString(), b.ToString());
  }
  void Walk(const std::string& path, const std::string& field, const IntOrString& a,
            const IntOrString& b, const IntOrString& def) {
    const auto shown = [](const IntOrString& v) {
      return v.is_int ? std::to_string(v.int_value) : "\"" + v.str_value + "\"";
    };
    Leaf(path, field, shown(a), shown(b), shown(def), shown(a), shown(b));
  }
  template <typename T>
  void Walk(const std::string& path, const std::string& field, const std::optional<T>& a,
            const std::optional<T>& b, const std::optional<T>& def) {
    Note(field, a.has_value() != def.has_value());
    if (a.has_value() != b.has_value()) {
      differences.push_back(path + (a ? ": present became absent" : ": absent became present"));
    } else if (a) {
      Walk(path, field, *a, *b, T{});
    }
  }
  template <typename T>
  void Walk(const std::string& path, const std::string& field, const std::vector<T>& a,
            const std::vector<T>& b, const std::vector<T>& def) {
    Note(field, a.size() != def.size());
    if (a.size() != b.size()) {
      differences.push_back(path + ": " + std::to_string(a.size()) + " items became " +
                            std::to_string(b.size()));
      return;
    }
    for (size_t i = 0; i < a.size(); ++i) {
      Walk(path + "[" + std::to_string(i) + "]", field, a[i], b[i], T{});
    }
  }
  template <typename V>
  void Walk(const std::string& path, const std::string& field, const std::map<std::string, V>& a,
            const std::map<std::string, V>& b, const std::map<std::string, V>& def) {
    Note(field, a.size() != def.size());
    const auto keys = [](const std::map<std::string, V>& m) {
      std::string list;
      for (const auto& entry : m) list += (list.empty() ? "" : ",") + entry.first;
      return "{" + list + "}";
    };
    if (keys(a) != keys(b)) {
      differences.push_back(path + ": keys " + keys(a) + " became " + keys(b));
      return;
    }
    for (const auto& [key, value] : a) Walk(path + "[" + key + "]", field, value, b.at(key), V{});
  }
  template <typename First, typename Second>
  void Walk(const std::string& path, const std::string& field, const std::pair<First, Second>& a,
            const std::pair<First, Second>& b, const std::pair<First, Second>& def) {
    Walk(path + ".first", field + ".first", a.first, b.first, def.first);
    Walk(path + ".second", field + ".second", a.second, b.second, def.second);
  }

// One overload per struct of objects.h, naming every field but positions
// (SourcePos says where the text was, which the emitter rewrites).
#define WALK(Type, ...)                                                                 \
  void Walk(const std::string& path, const std::string&, const Type& a, const Type& b, \
            const Type& def) {                                                          \
    const std::string type = #Type;                                                     \
    __VA_ARGS__                                                                         \
  }
#define FIELD(name) Walk(path + "." #name, type + "." #name, a.name, b.name, def.name);

  WALK(ObjectMeta, FIELD(name) FIELD(namespace_) FIELD(labels) FIELD(annotations))
  WALK(LabelSelectorRequirement, FIELD(key) FIELD(op) FIELD(values))
  WALK(LabelSelector, FIELD(match_labels) FIELD(match_expressions))
  WALK(Namespace, FIELD(meta))
  WALK(ServiceAccount, FIELD(meta))
  WALK(Taint, FIELD(key) FIELD(value) FIELD(effect))
  WALK(Node, FIELD(meta) FIELD(unschedulable) FIELD(taints) FIELD(capacity) FIELD(allocatable))
  WALK(NodeSelectorRequirement, FIELD(key) FIELD(op) FIELD(values))
  WALK(NodeSelectorTerm, FIELD(match_expressions) FIELD(match_fields))
  WALK(PreferredSchedulingTerm, FIELD(weight) FIELD(preference))
  WALK(NodeAffinity, FIELD(required) FIELD(preferred))
  WALK(PodAffinityTerm,
       FIELD(label_selector) FIELD(namespaces) FIELD(namespace_selector) FIELD(topology_key))
  WALK(WeightedPodAffinityTerm, FIELD(weight) FIELD(term))
  WALK(PodAffinity, FIELD(required) FIELD(preferred))
  WALK(Affinity, FIELD(node_affinity) FIELD(pod_affinity) FIELD(pod_anti_affinity))
  WALK(Toleration, FIELD(key) FIELD(op) FIELD(value) FIELD(effect) FIELD(toleration_seconds))
  WALK(ContainerPort, FIELD(name) FIELD(container_port) FIELD(protocol) FIELD(host_port))
  WALK(Container, FIELD(name) FIELD(image) FIELD(command) FIELD(args) FIELD(env)
                      FIELD(working_dir) FIELD(ports) FIELD(requests) FIELD(limits))
  WALK(PodVolume, FIELD(name) FIELD(claim_name) FIELD(read_only))
  WALK(TopologySpreadConstraint, FIELD(max_skew) FIELD(topology_key) FIELD(when_unsatisfiable)
                                     FIELD(label_selector) FIELD(min_domains))
  WALK(PodSpec, FIELD(containers) FIELD(init_containers) FIELD(node_name) FIELD(node_selector)
                    FIELD(affinity) FIELD(tolerations) FIELD(priority_class_name)
                        FIELD(priority) FIELD(preemption_policy) FIELD(scheduler_name)
                            FIELD(service_account_name) FIELD(volumes)
                                FIELD(topology_spread_constraints) FIELD(restart_policy)
                                    FIELD(host_network))
  WALK(Pod, FIELD(meta) FIELD(spec) FIELD(pod_ips))
  WALK(ServicePort, FIELD(name) FIELD(protocol) FIELD(port) FIELD(target_port) FIELD(node_port))
  WALK(Service, FIELD(meta) FIELD(type) FIELD(selector) FIELD(cluster_ip) FIELD(ports) FIELD(session_affinity)
                    FIELD(session_affinity_timeout) FIELD(external_traffic_policy) FIELD(internal_traffic_policy)
                        FIELD(publish_not_ready_addresses) FIELD(external_name))
  WALK(PodTemplate, FIELD(labels) FIELD(annotations) FIELD(spec))
  WALK(Deployment, FIELD(meta) FIELD(replicas) FIELD(selector) FIELD(pod_template)
                       FIELD(strategy) FIELD(max_surge) FIELD(max_unavailable)
                           FIELD(min_ready_seconds))
  WALK(DaemonSet, FIELD(meta) FIELD(selector) FIELD(pod_template) FIELD(update_strategy) FIELD(max_unavailable)
                      FIELD(max_surge) FIELD(min_ready_seconds))
  WALK(StatefulSet, FIELD(meta) FIELD(replicas) FIELD(selector) FIELD(pod_template) FIELD(service_name)
                        FIELD(volume_claim_templates) FIELD(pod_management_policy) FIELD(update_strategy)
                            FIELD(partition) FIELD(max_unavailable) FIELD(when_deleted) FIELD(when_scaled)
                                FIELD(min_ready_seconds) FIELD(ordinals_start))
  WALK(JobSpec, FIELD(completions) FIELD(parallelism) FIELD(backoff_limit) FIELD(completion_mode)
                    FIELD(active_deadline_seconds) FIELD(ttl_seconds_after_finished) FIELD(suspend)
                        FIELD(pod_template))
  WALK(Job, FIELD(meta) FIELD(spec))
  WALK(CronJob, FIELD(meta) FIELD(schedule) FIELD(time_zone) FIELD(concurrency_policy) FIELD(suspend)
                    FIELD(starting_deadline_seconds) FIELD(successful_jobs_history_limit)
                        FIELD(failed_jobs_history_limit) FIELD(job_labels) FIELD(job_annotations)
                            FIELD(job_template))
  WALK(IpBlock, FIELD(cidr) FIELD(except))
  WALK(NetworkPolicyPeer, FIELD(pod_selector) FIELD(namespace_selector) FIELD(ip_block))
  WALK(NetworkPolicyPort, FIELD(protocol) FIELD(port) FIELD(end_port))
  WALK(NetworkPolicyRule, FIELD(peers) FIELD(ports))
  WALK(NetworkPolicy,
       FIELD(meta) FIELD(pod_selector) FIELD(policy_types) FIELD(ingress) FIELD(egress))
  WALK(CalicoSelector, FIELD(expression))
  WALK(CalicoPort, FIELD(name) FIELD(first) FIELD(last))
  WALK(CalicoEntityRule, FIELD(nets) FIELD(not_nets) FIELD(selector) FIELD(not_selector)
                             FIELD(namespace_selector) FIELD(ports) FIELD(not_ports)
                                 FIELD(service_account_names) FIELD(service_account_selector))
  WALK(IcmpMatch, FIELD(type) FIELD(code))
  WALK(CalicoRule, FIELD(action) FIELD(protocol) FIELD(not_protocol) FIELD(icmp) FIELD(not_icmp)
                       FIELD(ip_version) FIELD(source) FIELD(destination))
  WALK(CalicoPolicy, FIELD(meta) FIELD(global) FIELD(tier) FIELD(order) FIELD(selector)
                         FIELD(namespace_selector) FIELD(service_account_selector) FIELD(types)
                             FIELD(ingress) FIELD(egress) FIELD(do_not_track) FIELD(pre_dnat)
                                 FIELD(apply_on_forward))
  WALK(Tier, FIELD(meta) FIELD(order) FIELD(default_action))
  WALK(NetworkSet, FIELD(meta) FIELD(global) FIELD(nets))
  WALK(SnapshotSchedule, FIELD(kind) FIELD(interval_minutes) FIELD(weekday) FIELD(day_of_week) FIELD(day_of_month)
                             FIELD(hour) FIELD(minute) FIELD(retain))
  WALK(StorkSchedule, FIELD(name) FIELD(policy) FIELD(cloud) FIELD(cloud_cred_id)
                          FIELD(reclaim_policy) FIELD(annotations))
  WALK(PortworxParameters, FIELD(repl) FIELD(sharedv4) FIELD(io_profile) FIELD(priority_io)
                               FIELD(snapshot_schedules) FIELD(stork_schedules))
  WALK(StorageClass, FIELD(meta) FIELD(provisioner) FIELD(parameters) FIELD(portworx)
                         FIELD(reclaim_policy) FIELD(volume_binding_mode)
                             FIELD(allow_volume_expansion) FIELD(allowed_topologies))
  WALK(PersistentVolumeClaim, FIELD(meta) FIELD(access_modes) FIELD(storage)
                                  FIELD(storage_class_name) FIELD(volume_mode)
                                      FIELD(data_source_kind) FIELD(data_source_name))
  WALK(VolumeSnapshot, FIELD(meta) FIELD(source_pvc) FIELD(source_content) FIELD(snapshot_class))
  WALK(PriorityClass,
       FIELD(meta) FIELD(value) FIELD(global_default) FIELD(preemption_policy) FIELD(description))
  WALK(ScheduleClock, FIELD(text) FIELD(hour) FIELD(minute))
  WALK(SchedulePolicy::Interval, FIELD(minutes) FIELD(retain))
  WALK(SchedulePolicy::Daily,
       FIELD(time) FIELD(retain) FIELD(force_full_snapshot_day) FIELD(force_full_weekday))
  WALK(SchedulePolicy::Weekly, FIELD(day) FIELD(weekday) FIELD(time) FIELD(retain))
  WALK(SchedulePolicy::Monthly, FIELD(date) FIELD(time) FIELD(retain))
  WALK(SchedulePolicy, FIELD(meta) FIELD(interval) FIELD(daily) FIELD(weekly) FIELD(monthly))
  WALK(SchedulerPlugin, FIELD(name) FIELD(weight))
  WALK(SchedulerPluginSet, FIELD(enabled) FIELD(disabled))
  WALK(ResourceWeight, FIELD(name) FIELD(weight))
  WALK(UtilizationShapePoint, FIELD(utilization) FIELD(score))
  WALK(SchedulerPluginConfig,
       FIELD(name) FIELD(scoring_strategy) FIELD(resources) FIELD(shape)
           FIELD(hard_pod_affinity_weight) FIELD(ignore_preferred_terms_of_existing_pods)
               FIELD(default_constraints) FIELD(defaulting_type)
                   FIELD(min_candidate_nodes_percentage) FIELD(min_candidate_nodes_absolute))
  WALK(SchedulerProfile, FIELD(scheduler_name) FIELD(plugins) FIELD(plugin_config))
  WALK(KubeSchedulerConfiguration,
       FIELD(meta) FIELD(percentage_of_nodes_to_score) FIELD(pod_initial_backoff_seconds)
           FIELD(pod_max_backoff_seconds) FIELD(profiles))
#undef FIELD
#undef WALK
};

// The promise for one object the loader produced: its text loads back to
// one object, cleanly, equal field by field, and emits to the same text.
void ExpectRoundTrip(const Object& original, const std::string& where, FieldWalk* walk) {
  const std::string yaml = ToYaml(original);
  SCOPED_TRACE(where + ", emitted as:\n" + yaml);
  const LoadResult again = LoadManifests(yaml, "x");
  for (const Diagnostic& e : again.errors) ADD_FAILURE() << "error: " << e.ToString();
  for (const Diagnostic& w : again.warnings) ADD_FAILURE() << "warning: " << w.ToString();
  ASSERT_EQ(again.objects.size(), 1u);
  walk->differences.clear();
  walk->WalkObject(original, again.objects[0]);
  for (const std::string& d : walk->differences) ADD_FAILURE() << d;
  EXPECT_EQ(ToYaml(again.objects[0]), yaml) << "not a fixed point";
}

LoadResult LoadClean(const std::string& yaml) {
  LoadResult r = LoadManifests(yaml, "maximal.yaml");
  for (const Diagnostic& e : r.errors) ADD_FAILURE() << "error: " << e.ToString();
  for (const Diagnostic& w : r.warnings) ADD_FAILURE() << "warning: " << w.ToString();
  return r;
}

// Every kind with every field the loader reads set to something other than
// its default, somewhere (fields that exclude each other are spread over
// several objects of a kind). Strings are chosen to look like numbers,
// booleans, dates and YAML syntax wherever the loader allows it.
const char* const kMaximal = R"yaml(apiVersion: v1
kind: Namespace
metadata:
  name: floor-7
  labels: {edgebed.io/floor: "7", on-call: "true", "1": "yes", kind: "null"}
  annotations: {note: "no", empty: "", time: "12:30", when: "2024-03-01", hex: "0x1F"}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: vision
  namespace: floor-7
  labels: {role: camera, weight: "1.5e3"}
  annotations: {owner: "facilities: north wing", "#": "# not a comment", tilde: "~", minus: "-1.5e3"}
---
apiVersion: v1
kind: Node
metadata:
  name: b2-f7-n4
  labels: {topology.kubernetes.io/zone: building-2, edgebed.io/gpu: "true"}
spec:
  unschedulable: true
  taints:
  - {key: edgebed.io/battery, value: low, effect: PreferNoSchedule}
  - {key: node.kubernetes.io/unreachable, effect: NoExecute}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110", example.com/camera: "2", "1": 1e3}
  allocatable: {cpu: 3500m, memory: 7.5Gi, pods: "110", ephemeral-storage: 100n}
---
apiVersion: v1
kind: Pod
metadata:
  name: inference-0
  namespace: floor-7
  labels: {app: inference, version: "1.10"}
  annotations:
    edgebed.io/motd: "line one\nline two"
    edgebed.io/padded: " padded "
    edgebed.io/quote: "say \"hi\" 'there'"
    edgebed.io/json: '{"a": [1, 2]}'
    edgebed.io/dashes: "---"
spec:
  containers:
  - name: server
    image: edgebed/inference:1.4
    command: [/bin/serve, "--verbose"]
    args: ["--port", "8500", "true", "1e3", "-", "&anchor", "*alias", "!tag", "off"]
    workingDir: /srv
    env: [{name: MODEL, value: /models/v3}, {name: DEBUG, value: "false"}, {name: EMPTY}]
    ports:
    - {name: grpc, containerPort: 8500, protocol: UDP, hostPort: 18500}
    - {containerPort: 9000}
    resources:
      limits: {cpu: "2", memory: 1Gi, nvidia.com/gpu: "1"}
      requests: {cpu: 500m, ephemeral-storage: 2.5G}
  initContainers:
  - name: fetch
    image: busybox
    args: ["1e5"]
    ports: [{name: h2c, containerPort: 8080, protocol: SCTP}]
  nodeName: b2-f7-n4
  nodeSelector: {accelerator: jetson, edgebed.io/floor: "7"}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: edgebed.io/floor, operator: In, values: ["1", "7"]}
          - {key: cpu-count, operator: Gt, values: ["2"]}
          - {key: edgebed.io/retired, operator: DoesNotExist}
          matchFields:
          - {key: metadata.name, operator: NotIn, values: [b2-f7-n9]}
        - {}
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 10
        preference:
          matchExpressions: [{key: zone, operator: Exists}]
      - weight: 1
        preference: {}
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: broker}}
        namespaces: [building-services, "true"]
        namespaceSelector: {matchExpressions: [{key: tier, operator: NotIn, values: [guest]}]}
        topologyKey: topology.kubernetes.io/zone
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 50
        podAffinityTerm:
          labelSelector:
            matchExpressions: [{key: app, operator: In, values: [cache]}]
          namespaceSelector: {}
          topologyKey: kubernetes.io/hostname
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: inference}}
        topologyKey: kubernetes.io/hostname
  tolerations:
  - {key: edgebed.io/battery, operator: Equal, value: low, effect: PreferNoSchedule}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 60}
  - {operator: Exists}
  priorityClassName: critical
  priority: -1000
  preemptionPolicy: Never
  schedulerName: edge-scheduler
  serviceAccountName: vision
  volumes:
  - name: model
    persistentVolumeClaim: {claimName: model, readOnly: true}
  - name: scratch
  topologySpreadConstraints:
  - maxSkew: 2
    topologyKey: edgebed.io/floor
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {app: inference}}
    minDomains: 3
  restartPolicy: OnFailure
  hostNetwork: true
status:
  podIP: 10.42.1.7
  podIPs: [{ip: 10.42.1.7}, {ip: "fd00::7"}, {ip: "::1"}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broker
  namespace: building-services
  labels: {app: broker}
  annotations: {deployment.kubernetes.io/revision: "3"}
spec:
  replicas: 3
  minReadySeconds: 15
  selector:
    matchLabels: {app: broker}
    matchExpressions: [{key: track, operator: In, values: [stable, "2"]}]
  template:
    metadata:
      labels: {app: broker, track: stable}
      annotations: {prometheus.io/port: "9100"}
    spec:
      containers: [{name: mqtt, image: "eclipse-mosquitto:2", ports: [{name: mqtt, containerPort: 1883}]}]
      priorityClassName: infra
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 2, maxUnavailable: "50%"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: historian, namespace: building-services}
spec:
  replicas: 0
  selector: {matchLabels: {app: historian}}
  template:
    metadata: {labels: {app: historian}}
    spec: {containers: [{name: db, image: postgres}]}
  strategy: {type: Recreate}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: sensor-gateway, namespace: b1-f1}
spec:
  minReadySeconds: 5
  selector: {matchLabels: {app: sensor-gateway}}
  template:
    metadata: {labels: {app: sensor-gateway}}
    spec:
      nodeSelector: {edgebed.io/role: gateway}
      tolerations: [{key: edgebed.io/accelerator, operator: Exists, effect: NoSchedule}]
      containers: [{name: gw, image: "gateway:1"}]
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: "20%", maxSurge: 1}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: log-shipper, namespace: kube-system}
spec:
  selector: {matchLabels: {app: log-shipper}}
  template:
    metadata: {labels: {app: log-shipper}}
    spec: {containers: [{name: ship, image: fluent-bit}]}
  updateStrategy: {type: OnDelete}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: broker, namespace: building-services}
spec:
  replicas: 3
  serviceName: broker
  minReadySeconds: 10
  selector: {matchLabels: {app: mqtt-broker}}
  template:
    metadata: {labels: {app: mqtt-broker}}
    spec:
      containers:
      - name: mqtt
        image: "eclipse-mosquitto:2"
  volumeClaimTemplates:
  - metadata: {name: data, labels: {tier: broker}}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: px-replicated
      resources: {requests: {storage: 2Gi}}
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {partition: 1, maxUnavailable: 2}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Delete}
  ordinals: {start: 1}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: historian, namespace: building-services}
spec:
  selector: {matchLabels: {app: historian}}
  template:
    metadata: {labels: {app: historian}}
    spec: {containers: [{name: db, image: postgres}]}
  updateStrategy: {type: OnDelete}
---
apiVersion: batch/v1
kind: Job
metadata: {name: calibrate, namespace: floor-7}
spec:
  completions: 4
  parallelism: 2
  backoffLimit: 0
  completionMode: Indexed
  activeDeadlineSeconds: 600
  ttlSecondsAfterFinished: 0
  suspend: true
  template:
    metadata: {labels: {app: calibrate}, annotations: {edgebed.io/run-seconds: "30"}}
    spec:
      containers: [{name: cal, image: "calibrate:1"}]
      restartPolicy: OnFailure
---
apiVersion: batch/v1
kind: Job
metadata: {name: drain-queue, namespace: floor-7}
spec:
  parallelism: 3
  template:
    spec:
      containers: [{name: worker, image: "worker:2"}]
      restartPolicy: Never
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly-report, namespace: floor-7}
spec:
  schedule: "30 2 * * MON-FRI"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  suspend: true
  startingDeadlineSeconds: 200
  successfulJobsHistoryLimit: 0
  failedJobsHistoryLimit: 5
  jobTemplate:
    metadata: {labels: {report: nightly}, annotations: {owner: "facilities"}}
    spec:
      completions: 2
      backoffLimit: 2
      template:
        spec:
          containers: [{name: report, image: "report:3"}]
          restartPolicy: Never
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broker-ingress, namespace: building-services, labels: {audit: "on"}}
spec:
  podSelector:
    matchLabels: {app: mqtt-broker}
  policyTypes: [Egress, Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {role: gateway}}
      namespaceSelector: {matchExpressions: [{key: edgebed.io/floor, operator: Exists}]}
    - ipBlock: {cidr: 10.20.0.0/16, except: [10.20.99.0/24]}
    ports:
    - {protocol: UDP, port: 5000, endPort: 5010}
    - {protocol: TCP, port: mqtt}
    - {protocol: SCTP}
  - {}
  egress:
  - to:
    - namespaceSelector: {}
    ports: [{port: 53, protocol: UDP}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: security.gateway, namespace: floor-7}
spec:
  tier: security
  order: 100.5
  selector: app == 'gateway' && !has(quarantine)
  serviceAccountSelector: role in {"camera", "badge"}
  types: [Egress, Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    notProtocol: 17
    ipVersion: 4
    source:
      nets: [10.10.0.0/16, 192.168.7.12, "fd00::1"]
      notNets: ["10.10.99.0/24"]
      selector: floor == "7"
      notSelector: "!has(guest)"
      namespaceSelector: projectcalico.org/name == 'floor-7'
      ports: [80, "8000:8080", http, "1e5"]
      notPorts: [22]
      serviceAccounts: {names: [vision, "1"], selector: all()}
    destination:
      ports: ["443"]
  egress:
  - action: Deny
    protocol: ICMP
    icmp: {type: 8, code: 0}
    notICMP: {type: 3}
  - action: Log
    protocol: 58
    icmp: {}
  - action: Pass
    notProtocol: UDPLite
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.untracked}
spec:
  tier: security
  order: 0.1
  selector: has(edgebed.io/host-endpoint)
  namespaceSelector: has(edgebed.io/floor)
  doNotTrack: true
  applyOnForward: true
  ingress: [{action: Allow, protocol: UDP, destination: {ports: [4789]}}]
  egress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.pre-dnat}
spec:
  order: 1e21
  preDNAT: true
  applyOnForward: true
  ingress: [{action: Deny, source: {nets: [0.0.0.0/0]}}]
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 0.30000000000000004, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: floor-7-sensors, namespace: floor-7, labels: {role: sensors}}
spec:
  nets: [10.70.0.0/16, 10.71.0.9, "2001:db8::5"]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: cloud}
spec:
  nets: [203.0.113.0/24]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: px-db
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: pxd.portworx.com
parameters:
  repl: "3"
  sharedv4: "true"
  io_profile: db_remote
  priority_io: high
  fs: ext4
  snap_interval: "30"
  snap_schedule: "periodic=60,10;daily=02:30,7;weekly=sunday@03:00,4;monthly=1@04:00"
  snapshotschedule.stork.libopenstorage.org/nightly.cloud: |
    schedulePolicyName: nightly
    reclaimPolicy: Retain
    annotations:
      portworx/snapshot-type: cloud
      portworx/cloud-cred-id: "1e3"
      edgebed.io/note: "yes: no"
  snapshotschedule.stork.libopenstorage.org/5: "{schedulePolicyName: every-5}"
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
allowedTopologies:
- matchLabelExpressions:
  - {key: topology.kubernetes.io/zone, values: [north, "2"]}
- matchLabelExpressions:
  - {key: edgebed.io/floor}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: historian-data, namespace: building-services}
spec:
  accessModes: [ReadWriteMany, ReadOnlyMany]
  resources: {requests: {storage: 5Gi}}
  storageClassName: px-db
  volumeMode: Block
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: nightly}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: copy, namespace: building-services}
spec:
  resources: {requests: {storage: "1e9"}}
  storageClassName: ""
  dataSourceRef: {kind: PersistentVolumeClaim, name: historian-data}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: nightly, namespace: building-services}
spec:
  volumeSnapshotClassName: px-snap
  source: {persistentVolumeClaimName: historian-data}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: imported, namespace: building-services}
spec:
  source: {volumeSnapshotContentName: "2024-05-01"}
---
apiVersion: v1
kind: Service
metadata: {name: mqtt, namespace: building-services}
spec:
  type: NodePort
  selector: {app: mqtt-broker}
  clusterIP: 10.43.0.20
  ports:
  - {name: mqtt, port: 1883, targetPort: mqtt, nodePort: 31883}
  - {name: coap, protocol: UDP, port: 5683, targetPort: 5683}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  externalTrafficPolicy: Local
  internalTrafficPolicy: Local
  publishNotReadyAddresses: true
---
apiVersion: v1
kind: Service
metadata: {name: archive, namespace: building-services}
spec: {type: ExternalName, externalName: archive.example.com}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: critical}
value: 1000000
globalDefault: true
preemptionPolicy: Never
description: "Safety systems: fire, access.\nPreempts everything else."
---
apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata: {name: nightly, labels: {tier: "1"}}
policy:
  interval: {intervalMinutes: 90, retain: 4}
  daily: {time: "10:14PM", retain: 3, forceFullSnapshotDay: thurs}
  weekly: {day: Fri, time: "12:05am", retain: 2}
  monthly: {date: 31, time: "8:05PM", retain: 6}
---
apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata: {name: every-5}
policy:
  interval: {intervalMinutes: 5}
---
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 50
podInitialBackoffSeconds: 2
podMaxBackoffSeconds: 20
profiles:
- schedulerName: edge-scheduler
  plugins:
    multiPoint:
      enabled: [{name: NodeResourcesFit, weight: 3}, {name: PodTopologySpread}]
      disabled: [{name: "*"}]
    filter: {}
    score:
      disabled: [{name: ImageLocality}]
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        resources: [{name: cpu, weight: 3}, {name: memory}]
        requestedToCapacityRatio:
          shape: [{utilization: 0, score: 0}, {utilization: 100, score: 10}]
  - name: NodeResourcesBalancedAllocation
    args: {resources: [{name: nvidia.com/gpu, weight: 5}]}
  - name: InterPodAffinity
    args: {hardPodAffinityWeight: 0, ignorePreferredTermsOfExistingPods: true}
  - name: PodTopologySpread
    args:
      defaultingType: List
      defaultConstraints:
      - {maxSkew: 3, topologyKey: edgebed.io/floor, whenUnsatisfiable: ScheduleAnyway}
      - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, minDomains: 2}
  - name: DefaultPreemption
    args: {minCandidateNodesPercentage: 20, minCandidateNodesAbsolute: 50}
  - name: NodeAffinity
- schedulerName: batch
)yaml";

TEST(Emit, EveryFieldOfEveryKindSurvivesTheRoundTrip) {
  const LoadResult loaded = LoadClean(kMaximal);
  std::set<size_t> kinds;
  FieldWalk walk;
  for (size_t i = 0; i < loaded.objects.size(); ++i) {
    kinds.insert(loaded.objects[i].index());
    ExpectRoundTrip(loaded.objects[i], "maximal document " + std::to_string(i), &walk);
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<Object>) << "a kind is missing from kMaximal";
  // What the round trip proved holds only for fields the manifests set.
  for (const auto& [field, set] : walk.ever_set) {
    EXPECT_TRUE(set) << field << " is never set to anything but its default in kMaximal";
  }
}

TEST(Emit, StreamOfEveryKindRoundTrips) {
  const LoadResult loaded = LoadClean(kMaximal);
  const std::string stream = ToYaml(loaded.objects);
  const LoadResult again = LoadManifests(stream, "stream.yaml");
  EXPECT_TRUE(again.errors.empty());
  EXPECT_TRUE(again.warnings.empty());
  ASSERT_EQ(again.objects.size(), loaded.objects.size());
  FieldWalk walk;
  for (size_t i = 0; i < loaded.objects.size(); ++i) {
    walk.WalkObject(loaded.objects[i], again.objects[i]);
  }
  for (const std::string& d : walk.differences) ADD_FAILURE() << d;
  EXPECT_EQ(ToYaml(again.objects), stream);
  // One separator between each pair of documents, none before the first.
  size_t separators = 0;
  for (size_t at = stream.find("---\n"); at != std::string::npos; at = stream.find("---\n", at + 1)) {
    if (at == 0 || stream[at - 1] == '\n') ++separators;
  }
  EXPECT_EQ(separators, loaded.objects.size() - 1);
  EXPECT_EQ(stream.rfind("apiVersion: v1\n", 0), 0u);
  EXPECT_EQ(ToYaml(std::vector<Object>{}), "");
}

// The repository's own manifests, whatever they hold; a file with errors
// yields partial results and is left to the loader's tests.
TEST(Emit, RepositoryManifestsAreFixedPoints) {
  namespace fs = std::filesystem;
  const fs::path root = EDGEBED_SOURCE_DIR;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(root / "tests/model/testdata")) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  if (fs::exists(root / "scenarios")) {
    for (const auto& entry : fs::recursive_directory_iterator(root / "scenarios")) {
      if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  size_t files_checked = 0, objects_checked = 0;
  FieldWalk walk;
  for (const fs::path& file : files) {
    const std::string relative = fs::relative(file, root).string();
    const LoadResult loaded = LoadManifests(ReadSourceFile(relative), relative);
    if (!loaded.ok()) continue;
    ++files_checked;
    for (size_t i = 0; i < loaded.objects.size(); ++i) {
      ExpectRoundTrip(loaded.objects[i], relative + " object " + std::to_string(i), &walk);
      ++objects_checked;
    }
  }
  EXPECT_GE(files_checked, 6u);
  EXPECT_GE(objects_checked, 30u);
}

Pod MinimalPod() {
  Pod pod;
  pod.meta.name = "probe";
  pod.meta.namespace_ = "default";
  Container container;
  container.name = "probe";
  container.image = "busybox";
  pod.spec.containers.push_back(container);
  return pod;
}

// A label value "1" loaded back as the number 1 would be refused; one
// loaded back as "1.0" or true by kubectl would be a different label.
TEST(Emit, StringsThatLookLikeOtherTypesAreQuoted) {
  Pod pod = MinimalPod();
  for (const std::string value : {"1", "-2", "1.5", "1e3", "0x1F", "0o17", "true", "False", "yes",
                                  "off", "y", "N", "null", "~", "2024-03-01", "12:30", ".inf"}) {
    pod.meta.annotations["a" + std::to_string(pod.meta.annotations.size())] = value;
    pod.spec.containers[0].args.push_back(value);
  }
  pod.meta.labels = {{"floor", "7"}, {"app", "probe"}};
  const std::string yaml = ToYaml(Object{pod});
  EXPECT_NE(yaml.find("floor: \"7\"\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("app: probe\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("- \"true\"\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("- \"12:30\"\n"), std::string::npos) << yaml;
  FieldWalk walk;
  ExpectRoundTrip(Object{pod}, "quoted pod", &walk);
}

// An IntOrString keeps its type: 25% and 2 stay a string and a number.
TEST(Emit, IntOrStringKeepsItsType) {
  Deployment d;
  d.meta = {"web", "default", {}, {}, {}};
  d.selector.match_labels = {{"app", "web"}};
  d.pod_template.labels = {{"app", "web"}};
  d.pod_template.spec = MinimalPod().spec;
  d.max_surge = IntOrString{true, 0, ""};
  d.max_unavailable = IntOrString{false, 0, "100%"};
  const std::string yaml = ToYaml(Object{d});
  EXPECT_NE(yaml.find("maxSurge: 0\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("maxUnavailable: 100%\n"), std::string::npos) << yaml;
  FieldWalk walk;
  ExpectRoundTrip(Object{d}, "deployment", &walk);

  NetworkPolicyPort port;
  port.port = IntOrString{false, 0, "8080"};  // a string the loader would refuse, kept one
  NetworkPolicy policy;
  policy.meta = {"p", "default", {}, {}, {}};
  policy.ingress.push_back(NetworkPolicyRule{{}, {port}});
  EXPECT_NE(ToYaml(Object{policy}).find("port: \"8080\"\n"), std::string::npos);
}

// Calico orders are doubles; the text must give back the same bits.
TEST(Emit, OrdersComeBackToTheLastBit) {
  for (const double order : {0.1, 1.0 / 3, 1e21, -2.5, 5e-324, 123456789.125, 100.0, 0.0}) {
    Tier tier;
    tier.meta.name = "t";
    tier.order = order;
    const LoadResult again = LoadManifests(ToYaml(Object{tier}), "tier.yaml");
    ASSERT_EQ(again.objects.size(), 1u) << ToYaml(Object{tier});
    EXPECT_EQ(*std::get<Tier>(again.objects[0]).order, order) << ToYaml(Object{tier});
  }
}

// Absent stays absent and empty stays empty, where the loader tells them apart.
TEST(Emit, AbsentAndEmptyAreKeptApart) {
  EXPECT_EQ(ToYaml(Object{MinimalPod()}).find("status:"), std::string::npos);

  PersistentVolumeClaim claim;
  claim.meta = {"c", "default", {}, {}, {}};
  claim.storage = Quantity::FromUnits(1 << 30);
  EXPECT_EQ(ToYaml(Object{claim}).find("storageClassName"), std::string::npos);
  claim.storage_class_name = "";
  EXPECT_NE(ToYaml(Object{claim}).find("storageClassName: \"\"\n"), std::string::npos);
  FieldWalk walk;
  ExpectRoundTrip(Object{claim}, "claim of no class", &walk);

  // A node with capacity but nothing allocatable is not one whose
  // allocatable was left to default to its capacity.
  Node node;
  node.meta.name = "n";
  node.capacity["cpu"] = Quantity::FromUnits(4);
  EXPECT_NE(ToYaml(Object{node}).find("allocatable: {}\n"), std::string::npos) << ToYaml(Object{node});
  ExpectRoundTrip(Object{node}, "node with nothing allocatable", &walk);

  KubeSchedulerConfiguration config;
  config.profiles.emplace_back();
  config.profiles[0].plugins["filter"];
  EXPECT_NE(ToYaml(Object{config}).find("filter: {}\n"), std::string::npos) << ToYaml(Object{config});
  ExpectRoundTrip(Object{config}, "empty extension point", &walk);
}

// A Stork schedule parameter is YAML in a "|" block, and is written back as
// one; text a block would not give back exactly stays quoted.
TEST(Emit, MultiLineTextIsABlockWhereItReadsBackTheSame) {
  const LoadResult loaded = LoadClean(R"(kind: StorageClass
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
)");
  ASSERT_EQ(loaded.objects.size(), 1u);
  EXPECT_EQ(ToYaml(loaded.objects[0]), R"(apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: px-sc-cloud
provisioner: kubernetes.io/portworx-volume
parameters:
  repl: "2"
  snapshotschedule.stork.libopenstorage.org/interval-schedule: |
    schedulePolicyName: intervalpolicy
    annotations:
      portworx/snapshot-type: cloud
reclaimPolicy: Delete
volumeBindingMode: Immediate
)");

  Pod pod = MinimalPod();
  pod.meta.annotations = {{"block", "a\n  b\n\nc # not a comment\n---\n"},
                          {"bool", "true\n"},
                          {"no-final-newline", "a\nb"},
                          {"two-final-newlines", "a\n\n"},
                          {"leading-space", " a\nb\n"},
                          {"leading-newline", "\na\n"},
                          {"carriage-return", "a\r\nb\r\n"},
                          {"tabs-and-spaces", "a \n\tb\t\n"},
                          {"not-ascii", "caf\xc3\xa9\nna\xc3\xafve\n"},
                          {"key\nwith a newline\n", "x"}};
  const std::string yaml = ToYaml(Object{pod});
  EXPECT_NE(yaml.find("  annotations:\n    block: |\n      a\n        b\n\n      c # not a comment\n"
                      "      ---\n    bool: |\n      true\n"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("no-final-newline: \"a\\nb\"\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("two-final-newlines: \"a\\n\\n\"\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("tabs-and-spaces: |\n      a \n      \tb\t\n"), std::string::npos) << yaml;
  FieldWalk walk;
  ExpectRoundTrip(Object{pod}, "annotations with newlines", &walk);
}

TEST(Emit, ASchedulePolicyReadsAsStorkWritesIt) {
  const LoadResult loaded = LoadClean(R"(apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata: {name: policy1}
policy:
  interval: {intervalMinutes: 1}
  daily: {time: "10:14PM", retain: 0}
  weekly: {day: "Thursday", time: "10:13PM", retain: 4}
  monthly: {date: 14, time: "8:05PM"}
)");
  ASSERT_EQ(loaded.objects.size(), 1u);
  EXPECT_EQ(ToYaml(loaded.objects[0]), R"(apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata:
  name: policy1
policy:
  interval:
    intervalMinutes: 1
  daily:
    time: 10:14PM
  weekly:
    day: Thursday
    time: 10:13PM
    retain: 4
  monthly:
    date: 14
    time: 8:05PM
)");
}

// What a person reads: upstream's field names and layout, defaults written out.
TEST(Emit, ADeploymentReadsLikeKubectlGet) {
  const LoadResult loaded = LoadClean(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: broker, namespace: building-services}
spec:
  selector: {matchLabels: {app: broker}}
  template:
    metadata: {labels: {app: broker}}
    spec:
      containers:
      - name: mqtt
        image: eclipse-mosquitto:2
        ports: [{name: mqtt, containerPort: 1883}]
        resources: {limits: {cpu: 500m, memory: 128Mi}}
)");
  ASSERT_EQ(loaded.objects.size(), 1u);
  EXPECT_EQ(ToYaml(loaded.objects[0]), R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: broker
  namespace: building-services
spec:
  replicas: 1
  selector:
    matchLabels:
      app: broker
  template:
    metadata:
      labels:
        app: broker
    spec:
      containers:
        - name: mqtt
          image: eclipse-mosquitto:2
          ports:
            - name: mqtt
              containerPort: 1883
              protocol: TCP
          resources:
            requests:
              cpu: 500m
              memory: 128Mi
            limits:
              cpu: 500m
              memory: 128Mi
      schedulerName: default-scheduler
      serviceAccountName: default
      restartPolicy: Always
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
  minReadySeconds: 0
)");
}

}  // namespace
}  // namespace edgebed::model
