// Helpers for tests of HostEnv: nodes on 127.0.0.1 sharing one io_context,
// and a bounded way to run it until a condition holds.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "core/env/memory_sink.h"
#include "core/host/host_env.h"

namespace edgebed::host {

class LoopbackNodes {
 public:
  explicit LoopbackNodes(int n) {
    dir_ = std::filesystem::temp_directory_path() /
           ("edgebed-host-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    for (int i = 0; i < n; ++i) {
      HostEnvOptions o;
      o.self = static_cast<NodeId>(i);
      o.data_dir = (dir_ / ("node" + std::to_string(i))).string();
      o.seed = 100 + i;
      o.sink = &sink;
      auto env = HostEnv::Create(io, o);
      EXPECT_TRUE(env.ok()) << env.status().ToString();
      envs.push_back(std::move(*env));
    }
    for (auto& a : envs) {
      for (auto& b : envs) EXPECT_TRUE(a->AddPeer(b->self(), "127.0.0.1", b->port()).ok());
    }
  }
  ~LoopbackNodes() {
    envs.clear();
    io.poll();  // let aborted handlers run against nothing
    std::filesystem::remove_all(dir_);
  }

  // Runs the io_context until `done` holds or `limit` passes; returns done().
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(5));
      if (io.stopped()) io.restart();
    }
    return done();
  }
  void RunFor(std::chrono::milliseconds d) {
    RunUntil([] { return false; }, d);
  }

  boost::asio::io_context io;
  MemorySink sink;
  std::vector<std::unique_ptr<HostEnv>> envs;
  std::filesystem::path dir_;
};

}  // namespace edgebed::host
