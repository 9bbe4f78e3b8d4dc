// Priority admission at the cluster's server, as upstream's: a pod's
// PriorityClass (or the global default) gives its priority and preemption
// policy; a class that does not exist, or a priority the pod states that
// its class does not give, refuses the pod and only it.
#include <gtest/gtest.h>

#include <string>

#include "tests/cluster/harness.h"

namespace edgebed::cluster {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

std::string PodWith(const std::string& name, const std::string& spec) {
  return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: building}\nspec:\n" + spec +
         "  containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]\n";
}

TEST(AdmissionTest, PriorityComesFromTheClassAndAMissingClassRefusesThePod) {
  ClusterOptions o;
  o.nodes = 3;
  o.floors = 1;
  Cluster c(1, o);
  c.Start();
  const std::string classes = R"(apiVersion: v1
kind: Namespace
metadata: {name: building}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: building-critical}
value: 100000
preemptionPolicy: Never
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: everyday}
value: 10
globalDefault: true
)";
  ApplyResult r = c.Apply(classes + PodWith("critical", "  priorityClassName: building-critical\n") +
                          PodWith("plain", "") + PodWith("system", "  priorityClassName: system-node-critical\n") +
                          PodWith("unknown", "  priorityClassName: gold\n") +
                          PodWith("liar", "  priorityClassName: everyday\n  priority: 5000\n"));
  // The two bad pods are refused, each saying why; the rest is applied.
  ASSERT_EQ(r.errors.size(), 2u) << r.status.ToString();
  EXPECT_NE(r.errors[0].ToString().find("pod building/unknown is forbidden: no PriorityClass with name \"gold\" was found"),
            std::string::npos)
      << r.errors[0].ToString();
  EXPECT_NE(r.errors[1].ToString().find("the integer value of priority (5000) must not be provided in pod spec; "
                                        "priority admission controller computed 10"),
            std::string::npos)
      << r.errors[1].ToString();
  const auto manifest = [&](const std::string& name) {
    std::optional<StoredObject> o = c.server().Get("Pod", "building", name);
    return o ? o->manifest : std::string("(none)");
  };
  EXPECT_NE(manifest("critical").find("priority: 100000\n"), std::string::npos) << manifest("critical");
  EXPECT_NE(manifest("critical").find("preemptionPolicy: Never\n"), std::string::npos) << manifest("critical");
  EXPECT_NE(manifest("plain").find("priority: 10\n"), std::string::npos) << manifest("plain");  // the global default
  EXPECT_NE(manifest("system").find("priority: 2000001000\n"), std::string::npos) << manifest("system");
  EXPECT_EQ(manifest("unknown"), "(none)");
  EXPECT_EQ(manifest("liar"), "(none)");
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == 3; }, std::chrono::seconds(30)));
  // Applying the same pod again (without the priority admission wrote) changes nothing.
  r = c.Apply(classes + PodWith("critical", "  priorityClassName: building-critical\n"));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_NE(std::find(r.applied.begin(), r.applied.end(), "Pod building/critical unchanged"), r.applied.end())
      << ::testing::PrintToString(r.applied);
}

}  // namespace
}  // namespace edgebed::cluster
