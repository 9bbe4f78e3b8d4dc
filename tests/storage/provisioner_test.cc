// Provisioning: claims of Portworx classes become replicated volumes placed
// on the nodes' pools, spread across floors and buildings, and the scheduler
// places pods where their volumes can be used.
#include "core/storage/provisioner.h"

#include <gtest/gtest.h>

#include <set>

#include "core/model/loader.h"
#include "core/sched/offline.h"

namespace edgebed::storage {
namespace {

std::vector<model::Object> Load(const std::string& yaml) {
  model::LoadResult r = model::LoadManifests(yaml, "storage.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  return std::move(r.objects);
}

std::string NodeYaml(const std::string& name, const std::string& building, const std::string& floor,
                     const std::string& pools) {
  return "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name + "\n  labels: {edgebed.io/building: \"" +
         building + "\", edgebed.io/floor: \"" + floor + "\"}\n" +
         (pools.empty() ? "" : "  annotations: {storage.edgebed.io/pools: \"" + pools + "\"}\n") +
         "status: {capacity: {cpu: \"4\", memory: 8Gi}}\n---\n";
}

std::string ClassYaml(const std::string& name, const std::string& params, const std::string& binding = "Immediate") {
  return "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: " + name +
         "}\nprovisioner: pxd.portworx.com\nparameters: {" + params + "}\nvolumeBindingMode: " + binding +
         "\n---\n";
}

std::string ClaimYaml(const std::string& name, const std::string& cls, const std::string& size,
                      const std::string& mode = "ReadWriteOnce") {
  return "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: " + name +
         ", namespace: floor-1}\nspec:\n  accessModes: [" + mode + "]\n  storageClassName: " + cls +
         "\n  resources: {requests: {storage: " + size + "}}\n---\n";
}

// Feeds nodes and classes, then claims; returns the last claim's result.
struct World {
  Provisioner px;
  std::vector<model::Object> objects;
  std::vector<StatusOr<const Volume*>> claims;
  explicit World(const std::string& yaml) : objects(Load(yaml)) {
    for (const auto& o : objects) {
      if (const auto* n = std::get_if<model::Node>(&o)) {
        EXPECT_TRUE(px.UpsertNode(*n).ok());
      }
      if (const auto* sc = std::get_if<model::StorageClass>(&o)) px.UpsertStorageClass(*sc);
    }
    for (const auto& o : objects) {
      if (const auto* c = std::get_if<model::PersistentVolumeClaim>(&o)) claims.push_back(px.UpsertClaim(*c));
    }
  }
};

// Two buildings of two floors of two nodes.
std::string Building(const std::string& pools = "ssd=100Gi/high, hdd=1Ti/low") {
  std::string yaml;
  for (int b = 1; b <= 2; ++b) {
    for (int f = 1; f <= 2; ++f) {
      for (int n = 1; n <= 2; ++n) {
        yaml += NodeYaml("b" + std::to_string(b) + "-f" + std::to_string(f) + "-n" + std::to_string(n),
                         std::to_string(b), std::to_string(f), pools);
      }
    }
  }
  return yaml;
}

TEST(ParsePools, ReadsNamesSizesAndPriorities) {
  StatusOr<std::vector<Pool>> p = ParsePools(" ssd=500Gi/high,hdd=2Ti/low ,nvme=1Ti/medium");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0].name, "ssd");
  EXPECT_EQ((*p)[0].capacity, 500ull << 30);
  EXPECT_EQ((*p)[0].priority, IoPriority::kHigh);
  EXPECT_EQ((*p)[1].capacity, 2ull << 40);
  EXPECT_EQ((*p)[2].priority, IoPriority::kMedium);
}

TEST(ParsePools, ErrorsSayHowToWriteIt) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"ssd=500Gi", "is not NAME=SIZE/PRIORITY"},
      {"ssd=lots/high", "\"lots\" is not a size"},
      {"ssd=1Ti/urgent", "\"urgent\" is not an io priority; use high, medium or low"},
      {"a=1Ti/low, a=2Ti/low", "pool a is named twice"},
      {"", "an empty pool entry"},
  };
  for (const Case& c : cases) {
    StatusOr<std::vector<Pool>> p = ParsePools(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.status().message().find(c.want), std::string::npos) << p.status().ToString();
  }
}

TEST(Provisioner, SpreadsReplicasAcrossBuildingsThenFloors) {
  World w(Building() + ClassYaml("px3", "repl: \"3\", priority_io: high") + ClaimYaml("db", "px3", "10Gi"));
  ASSERT_TRUE(w.claims[0].ok()) << w.claims[0].status().ToString();
  const Volume* v = *w.claims[0];
  ASSERT_EQ(v->replicas.size(), 3u);
  std::set<std::string> nodes, buildings, floors;
  for (const Replica& r : v->replicas) {
    nodes.insert(r.node);
    buildings.insert(r.node.substr(0, 2));
    floors.insert(r.node.substr(0, 5));
    EXPECT_EQ(r.pool, "ssd");  // the high pool
  }
  EXPECT_EQ(nodes.size(), 3u);
  EXPECT_EQ(buildings.size(), 2u);
  EXPECT_EQ(floors.size(), 3u);
  EXPECT_EQ(v->size, 10ull << 30);
  // Capacity is reserved on each replica's pool.
  for (const Replica& r : v->replicas) {
    for (const Pool& p : w.px.PoolsOf(r.node)) {
      if (p.name == "ssd") {
        EXPECT_EQ(p.provisioned, 10ull << 30);
      }
    }
  }
}

TEST(Provisioner, PlacementIsDeterministicAndFillsTheEmptiestPools) {
  std::string claims;
  for (int i = 0; i < 8; ++i) claims += ClaimYaml("v" + std::to_string(i), "px2", "30Gi");
  World a(Building() + ClassYaml("px2", "repl: \"2\", priority_io: high") + claims);
  World b(Building() + ClassYaml("px2", "repl: \"2\", priority_io: high") + claims);
  std::map<std::string, int> per_node;
  for (size_t i = 0; i < a.claims.size(); ++i) {
    ASSERT_TRUE(a.claims[i].ok()) << a.claims[i].status().ToString();
    EXPECT_EQ((*a.claims[i])->replicas, (*b.claims[i])->replicas);
    for (const Replica& r : (*a.claims[i])->replicas) ++per_node[r.node];
  }
  // 16 replicas of 30Gi over 8 nodes of 100Gi: two each, never three.
  EXPECT_EQ(per_node.size(), 8u);
  for (const auto& [node, n] : per_node) EXPECT_EQ(n, 2) << node;
}

TEST(Provisioner, AClaimThatCannotBePlacedSaysWhy) {
  World w(Building("ssd=20Gi/high, hdd=1Ti/low") + NodeYaml("bare", "3", "1", "") +
          ClassYaml("px3", "repl: \"3\", priority_io: high") + ClassYaml("fast", "priority_io: medium") +
          ClaimYaml("big", "px3", "50Gi") + ClaimYaml("quick", "fast", "1Gi"));
  ASSERT_FALSE(w.claims[0].ok());
  EXPECT_EQ(w.claims[0].status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.claims[0].status().message(),
            "volume floor-1/big needs 3 replicas on distinct nodes, each in a high pool with 50Gi free; "
            "0 nodes can hold one (b1-f1-n1: high pool ssd has 20Gi free; b1-f1-n2: high pool ssd has 20Gi "
            "free; b1-f2-n1: high pool ssd has 20Gi free; b1-f2-n2: high pool ssd has 20Gi free; and 5 more)");
  ASSERT_FALSE(w.claims[1].ok());
  EXPECT_NE(w.claims[1].status().message().find("b1-f1-n1: no medium pool"), std::string::npos)
      << w.claims[1].status().message();
}

TEST(Provisioner, BadClaimsAndClassesAreRefusedWithTheFix) {
  World w(Building() + ClassYaml("one", "repl: \"1\"") + ClassYaml("remote", "repl: \"1\", io_profile: db_remote") +
          "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\nprovisioner: rancher.io/local-path\n---\n" +
          ClaimYaml("shared", "one", "1Gi", "ReadWriteMany") + ClaimYaml("db", "remote", "1Gi") +
          ClaimYaml("elsewhere", "local", "1Gi") + ClaimYaml("typo", "onne", "1Gi"));
  ASSERT_EQ(w.claims.size(), 4u);
  EXPECT_NE(w.claims[0].status().message().find("ReadWriteMany but class one is not sharedv4"), std::string::npos);
  EXPECT_NE(w.claims[1].status().message().find("io_profile db_remote needs repl 2 or 3"), std::string::npos);
  EXPECT_NE(w.claims[2].status().message().find("edgebed provisions pxd.portworx.com classes"), std::string::npos);
  EXPECT_EQ(w.claims[3].status().code(), StatusCode::kNotFound);
  EXPECT_NE(w.claims[3].status().ToString().find("storage.yaml:"), std::string::npos) << w.claims[3].status().ToString();
}

TEST(Provisioner, DeletingGivesSpaceBackAndLostNodesAreReported) {
  World w(Building("ssd=10Gi/high") + ClassYaml("px2", "repl: \"2\", priority_io: high") +
          ClaimYaml("a", "px2", "10Gi") + ClaimYaml("b", "px2", "10Gi") + ClaimYaml("c", "px2", "10Gi") +
          ClaimYaml("d", "px2", "10Gi") + ClaimYaml("e", "px2", "10Gi"));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(w.claims[i].ok());
  EXPECT_FALSE(w.claims[4].ok());  // 8 nodes of 10Gi hold four 2-replica volumes
  const std::vector<Replica> a = (*w.claims[0])->replicas;
  ASSERT_TRUE(w.px.DeleteClaim("floor-1", "a").ok());
  for (const auto& o : w.objects) {
    const auto* c = std::get_if<model::PersistentVolumeClaim>(&o);
    if (c && c->meta.name == "e") {
      StatusOr<const Volume*> e = w.px.UpsertClaim(*c);
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      std::set<std::string> got, want;
      for (const Replica& r : (*e)->replicas) got.insert(r.node);
      for (const Replica& r : a) want.insert(r.node);
      EXPECT_EQ(got, want);
    }
  }
  w.px.RemoveNode(a[0].node);
  const auto lost = w.px.LostReplicas();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].first, "floor-1/e");
  EXPECT_EQ(lost[0].second.node, a[0].node);
}

TEST(Provisioner, NodeUpdatesKeepWhatIsProvisioned) {
  World w(Building("ssd=100Gi/high") + ClassYaml("px1", "priority_io: high") + ClaimYaml("a", "px1", "60Gi"));
  ASSERT_TRUE(w.claims[0].ok());
  const Replica r = (*w.claims[0])->replicas[0];
  const std::string shrunk = NodeYaml(r.node, "1", "1", "ssd=50Gi/high");
  ASSERT_TRUE(w.px.UpsertNode(std::get<model::Node>(Load(shrunk)[0])).ok());
  const std::vector<Pool> pools = w.px.PoolsOf(r.node);
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(pools[0].provisioned, 60ull << 30);
  EXPECT_EQ(pools[0].free(), 0u);
  // A malformed annotation is an error that names the node and the annotation.
  const Status bad = w.px.UpsertNode(std::get<model::Node>(Load(NodeYaml("x", "1", "1", "ssd=big/high"))[0]));
  EXPECT_NE(bad.ToString().find("node x: metadata.annotations[storage.edgebed.io/pools]: pool ssd: \"big\" is not a size"),
            std::string::npos)
      << bad.ToString();
  EXPECT_NE(bad.ToString().find("storage.yaml:1:1"), std::string::npos) << bad.ToString();
}

// The scheduler asks the provisioner where a pod's volumes can be used.
std::map<std::string, sched::Placement> Schedule(World& w, const std::string& pods, uint64_t seed = 1) {
  sched::Scheduler s(sched::DefaultConfig(), &w.px, Random(seed));
  std::vector<model::Object> all = w.objects;
  for (auto& o : Load(pods)) all.push_back(std::move(o));
  std::vector<std::string> refused;
  EXPECT_TRUE(sched::AddObjects(s, all, Time{}, &refused).ok());
  std::map<std::string, sched::Placement> out;
  std::map<std::string, const model::Pod*> by_key;
  for (const auto& o : all) {
    if (const auto* p = std::get_if<model::Pod>(&o)) by_key[p->meta.namespace_ + "/" + p->meta.name] = p;
  }
  // Bind through the provisioner as the control plane does: one pod at a time.
  while (auto d = s.ScheduleOne(Time{})) {
    if (d->outcome == sched::Decision::kBound) {
      EXPECT_TRUE(w.px.BindFirstConsumer(*by_key[d->pod], d->node).ok()) << d->pod;
    }
    out[d->pod] = {d->pod, d->node, d->victims, d->reason};
  }
  return out;
}

std::string PodYaml(const std::string& name, const std::string& claim) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: floor-1}\nspec:\n"
         "  volumes: [{name: v, persistentVolumeClaim: {claimName: " + claim + "}}]\n"
         "  containers: [{name: c, image: x}]\n---\n";
}

TEST(Provisioner, ThePodGoesWhereItsDataIs) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    World w(Building() + NodeYaml("no-driver", "1", "1", "") + ClassYaml("px2", "repl: \"2\", priority_io: high") +
            ClaimYaml("db", "px2", "10Gi"));
    ASSERT_TRUE(w.claims[0].ok());
    std::set<std::string> replicas;
    for (const Replica& r : (*w.claims[0])->replicas) replicas.insert(r.node);
    auto out = Schedule(w, PodYaml("postgres", "db"), seed);
    EXPECT_TRUE(replicas.count(out["floor-1/postgres"].node)) << out["floor-1/postgres"].node;
  }
}

TEST(Provisioner, WaitForFirstConsumerPlacesAReplicaBesideThePod) {
  World w(Building() + ClassYaml("wffc", "repl: \"2\", priority_io: high", "WaitForFirstConsumer") +
          ClaimYaml("cache", "wffc", "10Gi"));
  ASSERT_TRUE(w.claims[0].ok());
  EXPECT_EQ(*w.claims[0], nullptr);  // not yet placed
  auto out = Schedule(w, PodYaml("worker", "cache"));
  const std::string node = out["floor-1/worker"].node;
  ASSERT_FALSE(node.empty()) << out["floor-1/worker"].reason;
  const Volume* v = w.px.Find("floor-1", "cache");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->replicas[0].node, node);
  EXPECT_EQ(v->replicas.size(), 2u);
}

TEST(Provisioner, AReadWriteOnceVolumeStaysOnOneNodeASharedv4OneGoesAnywhere) {
  World w(Building() + ClassYaml("px1", "priority_io: high") +
          ClassYaml("shared", "repl: \"2\", sharedv4: \"true\", priority_io: high") + ClaimYaml("db", "px1", "1Gi") +
          ClaimYaml("model", "shared", "1Gi", "ReadWriteMany"));
  std::string pods;
  for (int i = 0; i < 3; ++i) pods += PodYaml("db-user-" + std::to_string(i), "db");
  for (int i = 0; i < 3; ++i) pods += PodYaml("reader-" + std::to_string(i), "model");
  auto out = Schedule(w, pods);
  std::set<std::string> db_nodes, model_nodes;
  for (int i = 0; i < 3; ++i) {
    db_nodes.insert(out["floor-1/db-user-" + std::to_string(i)].node);
    model_nodes.insert(out["floor-1/reader-" + std::to_string(i)].node);
  }
  EXPECT_EQ(db_nodes.size(), 1u);  // every user of the RWO volume beside its first
  EXPECT_FALSE(db_nodes.count(""));
  EXPECT_FALSE(model_nodes.count(""));
  const Volume* db = w.px.Find("floor-1", "db");
  EXPECT_EQ(db->attached, db_nodes);
}

TEST(Provisioner, ExplainsToTheSchedulerWhyNoNodeWillDo) {
  World w(NodeYaml("a", "1", "1", "") + NodeYaml("b", "1", "2", "ssd=1Gi/high") +
          ClassYaml("wffc", "repl: \"1\", priority_io: high", "WaitForFirstConsumer") + ClaimYaml("big", "wffc", "5Gi"));
  auto out = Schedule(w, PodYaml("p", "big") + PodYaml("q", "missing"));
  EXPECT_EQ(out["floor-1/p"].reason,
            "0/2 nodes are available: 1 node(s) could not provision volume floor-1/big, 1 node(s) ran no storage "
            "driver (no storage.edgebed.io/pools). preemption: 0/2 nodes are available: 2 Preemption is not "
            "helpful for scheduling.");
  EXPECT_NE(out["floor-1/q"].reason.find("1 persistentvolumeclaim \"missing\" not found"), std::string::npos)
      << out["floor-1/q"].reason;
}

}  // namespace
}  // namespace edgebed::storage
