#include "core/base/status.h"

#include <gtest/gtest.h>

namespace edgebed {
namespace {

TEST(Status, OkHasNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, ToStringPutsThePlaceFirst) {
  EXPECT_EQ(InvalidArgument("must be positive", "spec.replicas").ToString(),
            "spec.replicas: must be positive");
  EXPECT_EQ(IoError("disk gone").ToString(), "disk gone");
}

TEST(Status, WithContextPrefixesTheLocation) {
  Status inner = InvalidArgument("bad", "data_rate");
  EXPECT_EQ(inner.WithContext("floor_link").where(), "floor_link.data_rate");
  EXPECT_EQ(inner.WithContext("floor_link").WithContext("site.yaml:3:4").where(),
            "site.yaml:3:4: floor_link.data_rate");
  EXPECT_EQ(InvalidArgument("bad", "[2].port").WithContext("ports").where(), "ports[2].port");
  EXPECT_EQ(InvalidArgument("bad").WithContext("site.yaml:3:4").where(), "site.yaml:3:4");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(StatusOr, HoldsAValueOrAnError) {
  StatusOr<int> v = 3;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
  StatusOr<int> e = NotFound("no such node", "node-7");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_STREQ(StatusCodeName(e.status().code()), "NOT_FOUND");
}

Status FailsAtTwo(int i) {
  for (int k = 0; k < 5; ++k) {
    EDGEBED_RETURN_IF_ERROR(k == i ? Internal("stopped at " + std::to_string(k)) : Status::Ok());
  }
  return Status::Ok();
}

TEST(Status, ReturnIfErrorReturnsTheFirstError) {
  EXPECT_EQ(FailsAtTwo(2).message(), "stopped at 2");
  EXPECT_TRUE(FailsAtTwo(9).ok());
}

}  // namespace
}  // namespace edgebed
