// Scenario: what one simulation run is — the topology of sites, buildings,
// floors and edge nodes (plus a cloud site over a WAN), the classes of
// nodes, the latency profile of every class of link, the Kubernetes
// manifests to apply, the workloads that run in the pods, the fault
// timeline, the seed and the duration. scenarios/README.md is the reference
// of the file format; scenarios/smart-building.yaml is the worked example.
//
//   ScenarioLoad r = LoadScenarioFile("scenarios/smart-building.yaml", {"duration=5m"});
//   if (!r.ok()) for (const auto& e : r.errors) std::cerr << e.ToString() << "\n";
//   for (const GeneratedNode& n : r.scenario->nodes) ...   // the topology, unrolled
//
// Loading reads the scenario file and the manifest files it names (relative
// to the scenario's own directory), expands manifests written once per
// floor / building / site, and unrolls the topology into its nodes with
// their Node objects. Every error names file:line:column and the field
// path, as the manifest loader does (unknown keys come with the closest
// known name); an error in a value given by --set names the --set instead.
// All errors are reported, not just the first.
//
// Overrides: each "path=value" of `overrides` replaces (or adds) one field
// before the file is read, with the value read as YAML: "duration=5m",
// "seed=7", "topology.sites[0].buildings[0].count=40",
// "profiles.wan.delay.median=40ms". Sweeps are made of these.
//
// No ns-3 here: the offline tools (edgebed policy / sched) read scenarios too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/model/loader.h"
#include "core/model/objects.h"
#include "sim/delay.h"

namespace edgebed::sim {

// A class of link and what it does to a packet.
struct LinkProfile {
  std::string name;
  DelayDistribution delay;
  double bandwidth_bps = 1e9;
  double loss = 0;  // per packet, 0..1
  uint32_t queue_packets = 1000;
  bool allow_reorder = false;
  model::SourcePos pos;
};

// A kind of machine: what a node of it registers.
struct NodeClass {
  std::string name;
  model::ResourceList capacity, allocatable;  // allocatable defaults to capacity
  std::string pools;                          // storage pools, as the node annotation writes them
  model::Labels labels;
  std::vector<model::Taint> taints;
  model::SourcePos pos;
};

// `count` nodes of a class, in a floor or in the cloud.
struct NodeGroup {
  std::string class_name;
  int count = 1;
};

struct FloorGroup {
  int count = 1;
  std::vector<NodeGroup> nodes;
};

struct BuildingGroup {
  int count = 1;
  std::vector<FloorGroup> floors;
};

struct Site {
  std::string name;
  std::string uplink;  // profile of the site's link to the core; empty: links.site
  std::vector<BuildingGroup> buildings;
};

// The profile of each level of links. Every one must name a profile.
struct LinkClasses {
  std::string node = "lan";         // edge node <-> floor switch
  std::string floor = "riser";      // floor switch <-> building router
  std::string building = "campus";  // building router <-> site router
  std::string site = "metro";       // site router <-> core
  std::string cloud = "wan";        // core <-> cloud
};

// Where the control plane (cluster::Server) runs: its own machine, hanging
// off the cloud's router or off one building's router.
struct ServerPlacement {
  std::string at = "cloud";  // "cloud" or a building name ("b1")
};

struct TopologySpec {
  std::vector<Site> sites;
  std::vector<NodeGroup> cloud_nodes;  // cluster nodes in the cloud (may be none)
  LinkClasses links;
  ServerPlacement server;
};

// The manifests to apply, in order.
struct ManifestSource {
  std::string path;    // a file or a directory of *.yaml (sorted), relative to the scenario
  std::string inline_yaml;
  // "": once; "site", "building" or "floor": once per unit of the topology,
  // with ${site}, ${building}, ${floor} ... substituted (scenarios/README.md).
  std::string for_each;
  model::SourcePos pos;
};

// Which pods a workload runs in: a namespace (a glob: "floor-*") and a
// Calico selector on the pod's labels.
// A workload's own pods may also be narrowed to nodes (a glob on the
// node's name): one device behind one of a DaemonSet's pods.
struct PodMatch {
  std::string namespace_glob = "*";
  std::string selector = "all()";
  std::string node_glob = "*";
  bool Matches(const std::string& ns, const model::Labels& labels, const std::string& node = "") const;
};

// Where a workload sends: the pods of a match, on a port. The match may use
// the sending pod's place: ${site}, ${building}, ${building_number},
// ${floor}, ${floor_number}, ${node} (a sensor publishing to the broker of
// its own building: namespace: "${building}-services").
//
// Or a Service, by namespace and name: the message goes to its ClusterIP
// and the sending node's proxy picks the pod (a headless service's name
// resolves to one of its Ready pods instead, as cluster DNS answers).
struct Target {
  PodMatch pods;
  std::string service;  // "": the pods of the match
  uint16_t port = 0;    // a service's own port when it names one
  std::string protocol = "TCP";
  double fraction = 1.0;  // a broker's forward_to: the share of messages sent there
};

struct Workload {
  enum class Kind { kSensor, kBroker, kStream, kInference, kScanner, kBatch };
  std::string name;
  Kind kind = Kind::kSensor;
  PodMatch pods;
  // sensor
  int sensors = 1;                  // sensors behind each pod
  Duration interval = std::chrono::seconds(1);  // between one sensor's readings (jittered)
  uint32_t payload_bytes = 128;
  std::optional<Target> publish_to;
  // broker and stream: what each message costs the node's cpu
  Duration cpu_per_message = std::chrono::microseconds(50);
  std::vector<Target> forward_to;   // broker: each message to one pod of a target, by its fraction
  std::string persist_volume;       // broker: the pod volume its messages are written to
  Duration persist_every = std::chrono::seconds(1);
  Duration window = std::chrono::seconds(10);  // stream: aggregation window
  // inference
  std::string model_volume;         // the pod volume the model is read from
  uint32_t model_blocks = 16;       // read whole at start, one block per request after
  DelayDistribution service_time = DelayDistribution::Constant(std::chrono::milliseconds(10));
  // scanner: a compromised device probing ports of other pods, one
  // connection attempt every `interval` once `start_after` has passed
  std::optional<PodMatch> scan;
  uint16_t port_from = 1, port_to = 1024;
  Duration start_after{0};
  // batch: a run to completion (a Job's or CronJob's pod): reads
  // `read_blocks` of the pod volume `read_volume` (if given), spends `cpu`
  // of one core's time on its node, then the pod has Succeeded.
  Duration cpu = std::chrono::seconds(1);
  std::string read_volume;
  uint32_t read_blocks = 0;
  // Every kind: memory the workload holds while it runs.
  int64_t memory_bytes = 0;
  model::SourcePos pos;
};

struct Fault {
  enum class Kind { kNodeCrash, kLinkDown, kPartition, kLatencySpike, kDiskFailure, kServerLoss };
  Kind kind = Kind::kNodeCrash;
  Duration at{0};
  std::optional<Duration> duration;  // undone after this long (restart, heal, ...); none: never
  // What it hits: a node name (node-crash, disk-failure, link-down of its
  // access link), or a unit of the topology ("b1", "b1-f2", a site name,
  // "cloud") whose uplink it cuts (partition, link-down) or delays
  // (latency-spike).
  std::string target;
  Duration extra_delay{0};  // latency-spike
  model::SourcePos pos;
  std::string Describe() const;  // "partition b1-f3 for 2m"
};

struct ClusterSettings {
  std::string cluster_cidr = "10.0.0.0/8";
  int node_cidr_prefix = 24;
  Duration pod_start_min = std::chrono::milliseconds(500);
  Duration pod_start_max = std::chrono::seconds(3);
  // The storage engine models a volume's first blocks (4 KiB each), not all
  // of a large claim: this many at most.
  int64_t volume_blocks_max = 1024;
};

// A node of the unrolled topology.
struct GeneratedNode {
  model::Node node;  // name, labels (topology and class), capacity, taints, pools annotation
  std::string class_name;
  int site = -1, building = -1, floor = -1;  // indexes; -1 for cloud nodes
};

// A floor / building / site of the unrolled topology.
struct Unit {
  std::string name;   // "b3-f2", "b3", "campus-north", "cloud"
  int site = -1, building = -1, floor = -1;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string path;  // the file it was read from
  uint64_t seed = 1;
  Duration duration = std::chrono::minutes(10);
  Duration metrics_interval = std::chrono::seconds(10);
  TopologySpec topology;
  std::map<std::string, LinkProfile> profiles;
  std::map<std::string, NodeClass> classes;
  std::vector<ManifestSource> manifest_sources;
  std::vector<Workload> workloads;
  std::vector<Fault> faults;  // sorted by time
  ClusterSettings cluster;
  std::vector<std::string> overrides;  // as given, for the results database

  // Unrolled by the loader.
  std::vector<GeneratedNode> nodes;       // every cluster node, edge then cloud
  std::vector<Unit> sites, buildings, floors;
  // The manifests, expanded, one stream per source (per unit for for_each),
  // each named for diagnostics ("scenarios/x/floor.yaml [b1-f2]").
  std::vector<std::pair<std::string, std::string>> manifests;
};

struct ScenarioLoad {
  std::optional<Scenario> scenario;  // set when there is no error
  std::vector<model::Diagnostic> errors, warnings;
  bool ok() const { return errors.empty() && scenario.has_value(); }
};

// The variables of a node's place (site, building, building_number, floor,
// floor_number, node); a cloud node has site "cloud" and no building or floor.
std::map<std::string, std::string> PlaceOf(const Scenario& scenario, const GeneratedNode& node);
// `text` with each ${name} of `vars` replaced; other text is left as it is.
std::string Expand(const std::string& text, const std::map<std::string, std::string>& vars);

// Reads a scenario file and what it names (no ns-3, only the file system).
ScenarioLoad LoadScenarioFile(const std::string& path, const std::vector<std::string>& overrides = {});
// The same from text; manifest paths are relative to `directory`.
ScenarioLoad LoadScenario(const std::string& yaml, const std::string& source, const std::string& directory,
                          const std::vector<std::string>& overrides = {});

}  // namespace edgebed::sim
