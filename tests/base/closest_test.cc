#include "core/base/closest.h"

#include <gtest/gtest.h>

namespace edgebed {
namespace {

TEST(ClosestName, SuggestsOnlyLikelyTypos) {
  EXPECT_EQ(ClosestName("replica", {"replicas", "selector"}), "replicas");
  EXPECT_EQ(ClosestName("tcp", {"TCP", "UDP", "SCTP"}), "TCP");  // case does not count
  EXPECT_EQ(ClosestName("nodeNmae", {"nodeName", "nodeSelector"}), "nodeName");
  EXPECT_EQ(ClosestName("zzzzzz", {"replicas", "selector"}), "");
  EXPECT_EQ(ClosestName("x", {}), "");
}

}  // namespace
}  // namespace edgebed
