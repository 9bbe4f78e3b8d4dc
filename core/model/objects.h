// The object model: the Kubernetes, Calico and Portworx-style objects edgebed
// understands, as typed C++ values.
//
// Field names follow the upstream APIs (camelCase becomes snake_case), and so
// do defaults, which the loader (core/model/loader.h) fills in as the API
// server would: a missing namespace is "default", policyTypes are derived
// from the rules, requests default to limits, and so on. Every object keeps
// where it came from, so an engine that finds it wanting later can still
// point at file:line:column.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/model/quantity.h"

namespace edgebed::model {

struct SourcePos {
  std::string file;
  int line = 0, column = 0;  // 1-based; 0 when not from a file
  std::string ToString() const;  // "file:line:column"
};

using Labels = std::map<std::string, std::string>;
using ResourceList = std::map<std::string, Quantity>;  // "cpu", "memory", "nvidia.com/gpu", ...

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // empty for cluster-scoped kinds
  Labels labels;
  Labels annotations;
  SourcePos pos;
};

// metav1.LabelSelector.
struct LabelSelectorRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};
struct LabelSelector {
  Labels match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool Empty() const { return match_labels.empty() && match_expressions.empty(); }
};
// True if `labels` satisfy every term of `selector` (an empty selector matches all).
bool Matches(const LabelSelector& selector, const Labels& labels);

// An int or a string, as IntOrString fields ("80" or "http", 1 or "25%").
struct IntOrString {
  bool is_int = true;
  int64_t int_value = 0;
  std::string str_value;
  std::string ToString() const { return is_int ? std::to_string(int_value) : str_value; }
};

struct Namespace {
  ObjectMeta meta;
};

// v1 ServiceAccount: a pod's identity, whose labels Calico's
// serviceAccountSelector matches.
struct ServiceAccount {
  ObjectMeta meta;
};

struct Taint {
  std::string key, value;
  std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute
};

struct Node {
  ObjectMeta meta;
  bool unschedulable = false;
  std::vector<Taint> taints;
  ResourceList capacity;
  ResourceList allocatable;  // defaults to capacity
};

struct NodeSelectorRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist, Gt, Lt
  std::vector<std::string> values;
};
struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;
  std::vector<NodeSelectorRequirement> match_fields;
};
struct PreferredSchedulingTerm {
  int32_t weight = 0;  // 1..100
  NodeSelectorTerm preference;
};
struct NodeAffinity {
  std::vector<NodeSelectorTerm> required;  // ORed
  std::vector<PreferredSchedulingTerm> preferred;
};
struct PodAffinityTerm {
  std::optional<LabelSelector> label_selector;
  std::vector<std::string> namespaces;
  std::optional<LabelSelector> namespace_selector;
  std::string topology_key;
};
struct WeightedPodAffinityTerm {
  int32_t weight = 0;
  PodAffinityTerm term;
};
struct PodAffinity {
  std::vector<PodAffinityTerm> required;
  std::vector<WeightedPodAffinityTerm> preferred;
};
struct Affinity {
  std::optional<NodeAffinity> node_affinity;
  std::optional<PodAffinity> pod_affinity;
  std::optional<PodAffinity> pod_anti_affinity;
};

struct Toleration {
  std::string key;
  std::string op = "Equal";  // Equal, Exists
  std::string value;
  std::string effect;  // empty matches every effect
  std::optional<int64_t> toleration_seconds;
};

struct ContainerPort {
  std::string name;
  int32_t container_port = 0;
  std::string protocol = "TCP";
  std::optional<int32_t> host_port;
};

struct Container {
  std::string name, image;
  std::vector<std::string> command, args;
  std::vector<std::pair<std::string, std::string>> env;  // literal values only
  std::string working_dir;
  std::vector<ContainerPort> ports;
  ResourceList requests, limits;
};

struct PodVolume {
  std::string name;
  std::optional<std::string> claim_name;  // persistentVolumeClaim.claimName
  bool read_only = false;
};

struct TopologySpreadConstraint {
  int32_t max_skew = 1;
  std::string topology_key;
  std::string when_unsatisfiable;  // DoNotSchedule, ScheduleAnyway
  std::optional<LabelSelector> label_selector;
  std::optional<int32_t> min_domains;
};

struct PodSpec {
  std::vector<Container> containers, init_containers;
  std::string node_name;
  Labels node_selector;
  Affinity affinity;
  std::vector<Toleration> tolerations;
  std::string priority_class_name;
  std::optional<int32_t> priority;
  std::string preemption_policy;  // empty, PreemptLowerPriority, Never
  std::string scheduler_name = "default-scheduler";
  std::string service_account_name = "default";
  std::vector<PodVolume> volumes;
  std::vector<TopologySpreadConstraint> topology_spread_constraints;
  std::string restart_policy = "Always";
  bool host_network = false;
};

struct Pod {
  ObjectMeta meta;
  PodSpec spec;
  // status.podIP, then the rest of status.podIPs: given when a manifest was
  // taken from a running cluster (kubectl get -o yaml); else the cluster
  // assigns them.
  std::vector<std::string> pod_ips;
};

// v1 Service: a stable name and address for the pods its selector picks.
// ClusterIP (the default) gets a virtual address from the service range
// that the nodes' proxies translate to one Ready pod; clusterIP "None"
// makes it headless (no address: its name resolves to the pods');
// NodePort (and LoadBalancer, which K3s's ServiceLB serves on the nodes'
// ports) also opens a port from the node-port range on every node.
// ExternalName is only a DNS alias. A service without a selector has
// endpoints nobody here manages (none).
struct ServicePort {
  std::string name;  // required when there are several
  std::string protocol = "TCP";
  int32_t port = 0;
  std::optional<IntOrString> target_port;  // a number or a container port's name; absent: port
  int32_t node_port = 0;                   // 0: allocated (NodePort, LoadBalancer)
};

struct Service {
  ObjectMeta meta;
  std::string type = "ClusterIP";  // ClusterIP, NodePort, LoadBalancer, ExternalName
  Labels selector;                 // empty: no managed endpoints
  std::string cluster_ip;          // "": allocated; "None": headless
  std::vector<ServicePort> ports;
  std::string session_affinity = "None";  // or ClientIP
  int32_t session_affinity_timeout = 10800;
  std::string external_traffic_policy;    // Cluster or Local (NodePort, LoadBalancer); "": Cluster
  std::string internal_traffic_policy = "Cluster";  // or Local
  bool publish_not_ready_addresses = false;
  std::string external_name;
  bool headless() const { return cluster_ip == "None"; }
  bool node_ports() const { return type == "NodePort" || type == "LoadBalancer"; }
};

struct PodTemplate {
  Labels labels, annotations;
  PodSpec spec;
};

struct Deployment {
  ObjectMeta meta;
  int32_t replicas = 1;
  LabelSelector selector;
  PodTemplate pod_template;
  std::string strategy = "RollingUpdate";  // or Recreate
  IntOrString max_surge{false, 0, "25%"};
  IntOrString max_unavailable{false, 0, "25%"};
  int32_t min_ready_seconds = 0;
};

// apps/v1 DaemonSet: a pod on every node its template fits (nodeSelector,
// required node affinity, taints tolerated). Rolling updates replace the
// pods node by node within maxUnavailable (default 1) and maxSurge
// (default 0); OnDelete replaces a pod only once it is deleted.
struct DaemonSet {
  ObjectMeta meta;
  LabelSelector selector;
  PodTemplate pod_template;
  std::string update_strategy = "RollingUpdate";  // or OnDelete
  IntOrString max_unavailable{true, 1, ""};
  IntOrString max_surge{true, 0, ""};
  int32_t min_ready_seconds = 0;
};

// networking.k8s.io/v1 NetworkPolicy.
struct IpBlock {
  std::string cidr;
  std::vector<std::string> except;
};
struct NetworkPolicyPeer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<IpBlock> ip_block;
};
struct NetworkPolicyPort {
  std::string protocol = "TCP";
  std::optional<IntOrString> port;  // absent: every port
  std::optional<int32_t> end_port;
};
struct NetworkPolicyRule {
  std::vector<NetworkPolicyPeer> peers;  // from / to; empty matches everyone
  std::vector<NetworkPolicyPort> ports;  // empty matches every port
};
struct NetworkPolicy {
  ObjectMeta meta;
  LabelSelector pod_selector;
  std::vector<std::string> policy_types;  // defaulted: Ingress, plus Egress if egress rules
  std::vector<NetworkPolicyRule> ingress, egress;
};

// projectcalico.org/v3 NetworkPolicy and GlobalNetworkPolicy.
//
// A Calico selector ("role == 'db' && has(floor)") stays the text the user
// wrote: core/policy parses it. It keeps where it was written, so a parse
// error there can still point at file:line:column. Empty means "not given",
// which Calico reads as all() where a selector is optional.
struct CalicoSelector {
  std::string expression;
  SourcePos pos;
  bool empty() const { return expression.empty(); }
};
struct CalicoPort {
  std::string name;  // a named port, or empty
  int32_t first = 0, last = 0;
};
struct CalicoEntityRule {
  // CIDRs with their prefix length; a bare address as Calico accepts it
  // ("10.0.0.5") is stored with its host prefix ("10.0.0.5/32").
  std::vector<std::string> nets, not_nets;
  CalicoSelector selector, not_selector, namespace_selector;
  std::vector<CalicoPort> ports, not_ports;
  std::vector<std::string> service_account_names;  // serviceAccounts.names
  CalicoSelector service_account_selector;         // serviceAccounts.selector
};
struct IcmpMatch {
  std::optional<int32_t> type, code;
};
struct CalicoRule {
  std::string action;  // Allow, Deny, Log, Pass
  std::optional<IntOrString> protocol, not_protocol;  // name (TCP, UDP, ICMP...) or number
  std::optional<IcmpMatch> icmp, not_icmp;
  std::optional<int32_t> ip_version;  // 4 or 6
  CalicoEntityRule source, destination;
};
struct CalicoPolicy {
  ObjectMeta meta;
  bool global = false;  // GlobalNetworkPolicy
  std::string tier = "default";
  std::optional<double> order;  // absent: after every ordered policy
  CalicoSelector selector;
  CalicoSelector namespace_selector;        // GlobalNetworkPolicy only
  CalicoSelector service_account_selector;
  // Defaulted as Calico does: Ingress when there are no egress rules, Egress
  // when there are only egress rules, both when there are both.
  std::vector<std::string> types;
  std::vector<CalicoRule> ingress, egress;
  // GlobalNetworkPolicy only.
  bool do_not_track = false, pre_dnat = false, apply_on_forward = false;
};
struct Tier {
  ObjectMeta meta;
  std::optional<double> order;
  std::string default_action = "Deny";  // or Pass
};

// projectcalico.org/v3 NetworkSet and GlobalNetworkSet: networks that are
// not pods (sensors on a floor's LAN, the cloud), labelled so that policy
// selectors can name them.
struct NetworkSet {
  ObjectMeta meta;
  bool global = false;  // GlobalNetworkSet: no namespace
  std::vector<std::string> nets;  // CIDRs; bare addresses stored as /32 or /128
};

// storage.k8s.io/v1 StorageClass, with the Portworx parameters typed.
//
// A snapshot or backup schedule, in Portworx's notation
// ("periodic=60,10;daily=02:30,7;weekly=sunday@03:00,4;monthly=1@04:00,12").
struct SnapshotSchedule {
  std::string kind;              // periodic, daily, weekly, monthly
  int32_t interval_minutes = 0;  // periodic
  std::string weekday;           // weekly: sunday..saturday, as written
  int32_t day_of_week = -1;      // weekly: that day, 0 Sunday - 6 Saturday
  int32_t day_of_month = 0;      // monthly: 1..31
  int32_t hour = 0, minute = 0;  // daily, weekly, monthly
  int32_t retain = 0;            // how many to keep (pxctl's default when not written)
};
// A Stork snapshot schedule every volume of the class gets: the parameter
// "snapshotschedule.stork.libopenstorage.org/<name>", whose value is YAML
//   schedulePolicyName: <a SchedulePolicy>
//   reclaimPolicy: Delete | Retain          (optional)
//   annotations:                            (optional)
//     portworx/snapshot-type: local | cloud
//     portworx/cloud-cred-id: <credential>
struct StorkSchedule {
  std::string name;                       // <name>: it prefixes the snapshots' names
  std::string policy;                     // schedulePolicyName
  bool cloud = false;                     // portworx/snapshot-type: cloud (a cloudsnap of each)
  std::string cloud_cred_id;              // portworx/cloud-cred-id
  std::string reclaim_policy = "Delete";  // what happens to its snapshots when the schedule goes
  std::map<std::string, std::string> annotations;  // as written
};
// Defaults are Portworx's: one replica, io_profile auto (chosen from the
// I/O pattern; kept empty here when not written), priority low.
struct PortworxParameters {
  int32_t repl = 1;                  // "repl": 1..3
  bool sharedv4 = false;             // "sharedv4": many pods mount it over NFS
  std::string io_profile;            // auto, auto_journal, db, db_remote, sequential, random,
                                     // cms, sync_shared, journal, none
  std::string priority_io = "low";   // "priority_io" or "io_priority": high, medium, low
  std::vector<SnapshotSchedule> snapshot_schedules;  // "snap_schedule", "snap_interval" (local)
  std::vector<StorkSchedule> stork_schedules;        // "snapshotschedule.stork.libopenstorage.org/<name>"
};
struct StorageClass {
  ObjectMeta meta;
  std::string provisioner;
  std::map<std::string, std::string> parameters;  // all of them, as written
  // Present when the provisioner is Portworx (pxd.portworx.com or the in-tree
  // kubernetes.io/portworx-volume).
  std::optional<PortworxParameters> portworx;
  std::string reclaim_policy = "Delete";          // or Retain
  std::string volume_binding_mode = "Immediate";  // or WaitForFirstConsumer
  bool allow_volume_expansion = false;
  std::vector<NodeSelectorRequirement> allowed_topologies;  // op In, ANDed within the term
};

struct PersistentVolumeClaim {
  ObjectMeta meta;
  std::vector<std::string> access_modes;
  std::optional<Quantity> storage;  // resources.requests.storage
  std::optional<std::string> storage_class_name;  // absent: the default class; "": none
  std::string volume_mode = "Filesystem";
  std::string data_source_kind, data_source_name;  // e.g. VolumeSnapshot, its name
};

// apps/v1 StatefulSet: pods with stable identities NAME-0 .. NAME-(n-1)
// (from ordinals.start), each with its own claims made from the
// volumeClaimTemplates (TEMPLATE-NAME-ORDINAL) that follow it wherever it
// runs. OrderedReady starts them one at a time in order and stops them in
// reverse; Parallel all at once. RollingUpdate replaces pods from the
// highest ordinal down to `partition`, one at a time (or maxUnavailable);
// OnDelete when they are deleted. Claims are kept on scale-down and
// deletion unless persistentVolumeClaimRetentionPolicy says Delete.
struct StatefulSet {
  ObjectMeta meta;
  int32_t replicas = 1;
  LabelSelector selector;
  PodTemplate pod_template;
  std::string service_name;
  std::vector<PersistentVolumeClaim> volume_claim_templates;  // meta.name and spec
  std::string pod_management_policy = "OrderedReady";         // or Parallel
  std::string update_strategy = "RollingUpdate";              // or OnDelete
  int32_t partition = 0;
  std::optional<IntOrString> max_unavailable;  // rollingUpdate.maxUnavailable; absent: 1
  std::string when_deleted = "Retain", when_scaled = "Retain";  // or Delete
  int32_t min_ready_seconds = 0;
  int32_t ordinals_start = 0;
};

// batch/v1 Job: runs pods to completion. `completions` pods must succeed
// (absent with parallelism given: a work queue, done once any pod has
// succeeded and none is left running); at most `parallelism` run at once.
// A failed pod is replaced after an exponential back-off; past
// `backoff_limit` failures (or container restarts, for restartPolicy
// OnFailure) the Job fails, as it does past `active_deadline_seconds`.
// Indexed completion mode gives each pod an index 0..completions-1 that
// must succeed once. Defaults as upstream's: completions and parallelism 1
// when neither is written, backoffLimit 6, NonIndexed.
struct JobSpec {
  std::optional<int32_t> completions;
  int32_t parallelism = 1;
  int32_t backoff_limit = 6;
  std::string completion_mode = "NonIndexed";  // or Indexed
  std::optional<int64_t> active_deadline_seconds;
  std::optional<int32_t> ttl_seconds_after_finished;
  bool suspend = false;
  PodTemplate pod_template;  // restartPolicy OnFailure or Never
};
struct Job {
  ObjectMeta meta;
  JobSpec spec;
};

// batch/v1 CronJob: makes a Job from `job_template` at every time its
// `schedule` (standard cron syntax, core/model/cron.h; UTC) names, named
// <cronjob>-<the scheduled time in minutes since 1970>. concurrencyPolicy
// Allow runs them side by side, Forbid skips a run while one is active,
// Replace stops the active one first. Finished Jobs beyond the history
// limits are deleted with their pods.
struct CronJob {
  ObjectMeta meta;
  std::string schedule;
  std::optional<std::string> time_zone;  // only UTC is modelled
  std::string concurrency_policy = "Allow";  // Allow, Forbid, Replace
  bool suspend = false;
  std::optional<int64_t> starting_deadline_seconds;
  int32_t successful_jobs_history_limit = 3;
  int32_t failed_jobs_history_limit = 1;
  Labels job_labels, job_annotations;  // jobTemplate.metadata
  JobSpec job_template;
};

struct VolumeSnapshot {
  ObjectMeta meta;
  std::string source_pvc;      // persistentVolumeClaimName
  std::string source_content;  // volumeSnapshotContentName
  std::string snapshot_class;
};

struct PriorityClass {
  ObjectMeta meta;
  int32_t value = 0;
  bool global_default = false;
  std::string preemption_policy = "PreemptLowerPriority";
  std::string description;
};

// stork.libopenstorage.org/v1alpha1 SchedulePolicy (cluster-scoped): when a
// scheduled action runs and how many of its results each rule keeps. Times
// are Go's time.Kitchen as Stork parses them ("10:14PM", "9:05am"); days are
// Stork's names and abbreviations ("Sunday", "Sun", ... "Thurs"). A retain of
// 0 (unwritten) means Stork's default: 10 interval, 30 daily, 7 weekly, 12
// monthly.
struct ScheduleClock {
  std::string text;              // as written
  int32_t hour = 0, minute = 0;  // 0-23, 0-59
};
struct SchedulePolicy {
  ObjectMeta meta;
  struct Interval {
    int32_t minutes = 0;  // intervalMinutes, >= 1
    int32_t retain = 0;
  };
  struct Daily {
    ScheduleClock time;
    int32_t retain = 0;
    std::string force_full_snapshot_day;  // forceFullSnapshotDay: a day name, as written
    int32_t force_full_weekday = -1;      // 0 Sunday - 6 Saturday; -1: not written
  };
  struct Weekly {
    std::string day;      // as written
    int32_t weekday = 0;  // 0 Sunday - 6 Saturday
    ScheduleClock time;
    int32_t retain = 0;
  };
  struct Monthly {
    int32_t date = 1;  // 1-31; a date a month lacks rolls over into the next (Feb 31 -> Mar 3)
    ScheduleClock time;
    int32_t retain = 0;
  };
  std::optional<Interval> interval;
  std::optional<Daily> daily;
  std::optional<Weekly> weekly;
  std::optional<Monthly> monthly;
};

// kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration: the scheduler's
// profiles, as kube-scheduler reads them from --config. It has no metadata;
// meta.pos says where it was written. core/sched checks plugin names and
// turns it into its own configuration.
struct SchedulerPlugin {
  std::string name;
  std::optional<int32_t> weight;  // score plugins only
  SourcePos pos;
};
struct SchedulerPluginSet {
  std::vector<SchedulerPlugin> enabled, disabled;  // disabled may name "*"
};
struct ResourceWeight {
  std::string name;
  int64_t weight = 1;
};
struct UtilizationShapePoint {
  int32_t utilization = 0;  // 0..100 (percent)
  int32_t score = 0;        // 0..10
};
// One pluginConfig entry; only the fields of its plugin are set.
struct SchedulerPluginConfig {
  std::string name;
  SourcePos pos;
  // NodeResourcesFit
  std::string scoring_strategy;  // LeastAllocated, MostAllocated, RequestedToCapacityRatio
  std::vector<ResourceWeight> resources;  // also NodeResourcesBalancedAllocation's
  std::vector<UtilizationShapePoint> shape;
  // InterPodAffinity
  std::optional<int32_t> hard_pod_affinity_weight;
  bool ignore_preferred_terms_of_existing_pods = false;
  // PodTopologySpread
  std::vector<TopologySpreadConstraint> default_constraints;
  std::string defaulting_type;  // System, List
  // DefaultPreemption
  std::optional<int32_t> min_candidate_nodes_percentage, min_candidate_nodes_absolute;
};
struct SchedulerProfile {
  std::string scheduler_name = "default-scheduler";
  SourcePos pos;
  // By extension point as written: multiPoint, preFilter, filter, postFilter,
  // preScore, score, reserve, permit, preBind, bind, postBind, queueSort.
  std::map<std::string, SchedulerPluginSet> plugins;
  std::vector<SchedulerPluginConfig> plugin_config;
};
struct KubeSchedulerConfiguration {
  ObjectMeta meta;  // empty but for pos
  std::optional<int32_t> percentage_of_nodes_to_score;  // 0..100; 0 or absent: adaptive
  int64_t pod_initial_backoff_seconds = 1;
  int64_t pod_max_backoff_seconds = 10;
  std::vector<SchedulerProfile> profiles;
};

using Object = std::variant<Namespace, ServiceAccount, Node, Pod, Service, Deployment, DaemonSet, StatefulSet, Job, CronJob,
                            NetworkPolicy,
                            CalicoPolicy, Tier, NetworkSet, StorageClass, PersistentVolumeClaim,
                            VolumeSnapshot, PriorityClass, SchedulePolicy, KubeSchedulerConfiguration>;

// The pods a Deployment stands for, as its ReplicaSet would create them:
// named NAME-0 .. NAME-(replicas-1) (stable, where upstream adds a random
// hash), with the template's labels and spec, in its namespace.
std::vector<Pod> ReplicaPods(const Deployment& deployment);

// What a StatefulSet stands for, as its controller makes them: the claim
// of template T for ordinal i ("T-NAME-i", in the set's namespace, labelled
// with the set's matchLabels), and the pod of ordinal i ("NAME-i", labelled
// statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index, each
// template's volume mounting that ordinal's claim). StatefulPods and
// StatefulClaims cover ordinals start .. start+replicas-1.
std::string StatefulClaimName(const PersistentVolumeClaim& tmpl, const std::string& set, int64_t ordinal);
PersistentVolumeClaim StatefulClaim(const StatefulSet& set, const PersistentVolumeClaim& tmpl, int64_t ordinal);
Pod StatefulPod(const StatefulSet& set, int64_t ordinal);
std::vector<Pod> StatefulPods(const StatefulSet& set);
std::vector<PersistentVolumeClaim> StatefulClaims(const StatefulSet& set);

// The pods a Job stands for when it starts, for tools that place or police
// manifests without a cluster: min(parallelism, completions) of them, named
// NAME-0, NAME-1, ... (where the cluster's controller adds a random suffix),
// labelled job-name and batch.kubernetes.io/job-name as upstream's are.
std::vector<Pod> JobPods(const Job& job);

// "Pod", "GlobalNetworkPolicy", ... for any object.
std::string KindOf(const Object& object);
const ObjectMeta& MetaOf(const Object& object);
// One line a person reads, e.g.
// "Pod floor-1/sensor-gateway: 1 container, requests cpu=100m memory=64Mi".
std::string Summarize(const Object& object);

}  // namespace edgebed::model
