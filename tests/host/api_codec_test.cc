// What the API speaks besides HTTP: manifests as JSON and back, and the
// Prometheus text of the node's metrics.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>

#include "core/host/json_yaml.h"
#include "core/host/prometheus.h"

namespace edgebed::host {
namespace {

namespace json = boost::json;

TEST(JsonYaml, PlainScalarsAreTypedAsTheCoreSchemaTypesThem) {
  const json::value v = YamlToJson(
      "i: 42\nn: -7\nf: 1.5\ng: .5\nh: 1.\ne: 1e3\ns: abc\nq: '42'\nd: \"true\"\nb: true\nz: ~\nv: 1.2.3\nm: 0x1F\n");
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("i").as_int64(), 42);
  EXPECT_EQ(o.at("n").as_int64(), -7);
  EXPECT_DOUBLE_EQ(o.at("f").as_double(), 1.5);
  EXPECT_DOUBLE_EQ(o.at("g").as_double(), 0.5);
  EXPECT_DOUBLE_EQ(o.at("h").as_double(), 1.0);
  EXPECT_DOUBLE_EQ(o.at("e").as_double(), 1000.0);
  EXPECT_EQ(o.at("s").as_string(), "abc");
  EXPECT_EQ(o.at("q").as_string(), "42");  // quoted: a string whatever it says
  EXPECT_EQ(o.at("d").as_string(), "true");
  EXPECT_TRUE(o.at("b").as_bool());
  EXPECT_TRUE(o.at("z").is_null());
  EXPECT_EQ(o.at("v").as_string(), "1.2.3");
  EXPECT_EQ(o.at("m").as_string(), "0x1F");  // YAML 1.2 core has no hex ints in Kubernetes' reading
}

// Any JSON a manifest can hold comes back from its YAML unchanged.
json::value RandomValue(std::mt19937& rng, int depth) {
  static const std::vector<std::string> kStrings = {"", "a", "42", "-1", "1.5", "true", "null", "~", "x: y",
                                                    "- item", "#c", "multi\nline", "100m", "64Mi", "'q'", "8080"};
  switch (depth > 3 ? rng() % 5 : rng() % 7) {
    case 0: return nullptr;
    case 1: return static_cast<bool>(rng() % 2);
    case 2: return static_cast<int64_t>(rng() % 200000) - 100000;
    case 3: return static_cast<double>(rng() % 1000) / 8.0 + 0.125;
    case 4: return json::value(kStrings[rng() % kStrings.size()]);
    case 5: {
      json::array a;
      for (int i = static_cast<int>(rng() % 4); i > 0; --i) a.push_back(RandomValue(rng, depth + 1));
      return a;
    }
    default: {
      json::object o;
      for (int i = static_cast<int>(rng() % 4); i > 0; --i)
        o["k" + std::to_string(rng() % 10)] = RandomValue(rng, depth + 1);
      return o;
    }
  }
}

TEST(JsonYaml, JsonThroughYamlComesBackUnchanged) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    json::object root;
    for (int i = 0; i < 5; ++i) root["f" + std::to_string(i)] = RandomValue(rng, 0);
    const json::value v = root;
    const std::string yaml = JsonToYaml(v);
    EXPECT_EQ(json::serialize(YamlToJson(yaml)), json::serialize(v)) << "seed " << seed << "\n" << yaml;
  }
}

TEST(Prometheus, SamplesAndEventsRenderInTheTextFormat) {
  PrometheusSink sink;
  sink.Record(MetricSample{Time{}, 1, "cluster.pod_startup_s", 1.5, "node=a"});
  sink.Record(MetricSample{Time{}, 1, "cluster.pod_startup_s", 0.5, "node=a"});
  sink.Record(MetricSample{Time{}, 1, "datastore.log_bytes", 4028, ""});
  sink.Event(EventRecord{Time{}, 1, "cluster.node_joined", "node=a"});
  const std::string text = sink.Render();
  EXPECT_NE(text.find("# TYPE edgebed_cluster_pod_startup_s gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("edgebed_cluster_pod_startup_s{node=\"a\"} 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("edgebed_cluster_pod_startup_s_samples_total{node=\"a\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("edgebed_cluster_pod_startup_s_sum{node=\"a\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("edgebed_datastore_log_bytes 4028\n"), std::string::npos) << text;
  EXPECT_NE(text.find("edgebed_events_total{kind=\"cluster.node_joined\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(PrometheusLabels("b=x\"y,a=1"), "b=\"x\\\"y\",a=\"1\"");
  EXPECT_EQ(PrometheusName("probe.rtt-ms"), "edgebed_probe_rtt_ms");
}

}  // namespace
}  // namespace edgebed::host
