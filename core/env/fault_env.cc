#include "core/env/fault_env.h"

namespace edgebed {

void FaultPlan::Partition(const std::vector<std::vector<NodeId>>& sides) {
  side_.clear();
  blocked_.clear();
  int side = 1;
  for (const auto& nodes : sides) {
    for (NodeId n : nodes) side_[n] = side;
    ++side;
  }
}

void FaultPlan::Heal() {
  side_.clear();
  blocked_.clear();
}

bool FaultPlan::Reachable(NodeId from, NodeId to) const {
  if (from == to) return true;
  if (blocked_.count({from, to})) return false;
  auto side_of = [this](NodeId n) {
    auto it = side_.find(n);
    return it == side_.end() ? 0 : it->second;
  };
  return side_of(from) == side_of(to);
}

void FaultPlan::FailDisk(NodeId node, bool failed) {
  if (failed) {
    failed_disks_.insert(node);
  } else {
    failed_disks_.erase(node);
  }
}

// Fails operations as the plan says, otherwise forwards to the node's disk.
class FaultDisk final : public Disk {
 public:
  FaultDisk(Env& env, Disk& target, FaultPlan& plan, Random& random)
      : env_(env), target_(target), plan_(plan), random_(random) {}

  void Write(const std::string& file, uint64_t offset, Bytes data, Done done) override {
    if (Status s = Check("write", file); !s.ok()) return Fail(std::move(done), s);
    target_.Write(file, offset, std::move(data), std::move(done));
  }
  void Read(const std::string& file, uint64_t offset, uint64_t length, ReadDone done) override {
    if (Status s = Check("read", file); !s.ok()) {
      env_.Schedule(Duration::zero(), [done = std::move(done), s] { done(s); });
      return;
    }
    target_.Read(file, offset, length, std::move(done));
  }
  void Sync(const std::string& file, Done done) override {
    if (Status s = Check("sync", file); !s.ok()) return Fail(std::move(done), s);
    target_.Sync(file, std::move(done));
  }
  void Size(const std::string& file, SizeDone done) override {
    if (Status s = Check("size", file); !s.ok()) {
      env_.Schedule(Duration::zero(), [done = std::move(done), s] { done(s); });
      return;
    }
    target_.Size(file, std::move(done));
  }
  void Remove(const std::string& file, Done done) override {
    if (Status s = Check("remove", file); !s.ok()) return Fail(std::move(done), s);
    target_.Remove(file, std::move(done));
  }

 private:
  Status Check(const char* op, const std::string& file) {
    const bool failed = plan_.DiskFailed(env_.self());
    if (!failed && !random_.Chance(plan_.disk_error_rate_)) return Status::Ok();
    ++plan_.stats_.disk_errors;
    return IoError(std::string(op) + " failed: injected disk " +
                       (failed ? "failure" : "error") + " on node " +
                       std::to_string(env_.self()),
                   file);
  }
  void Fail(Done done, Status s) {
    env_.Schedule(Duration::zero(), [done = std::move(done), s = std::move(s)] { done(s); });
  }

  Env& env_;
  Disk& target_;
  FaultPlan& plan_;
  Random& random_;
};

FaultEnv::FaultEnv(Env& target, FaultPlan& plan)
    : EnvWrapper(target), plan_(plan), random_(target.random().Fork(0xfa17)) {
  disk_ = std::make_unique<FaultDisk>(*this, target.disk(), plan_, random_);
}

FaultEnv::~FaultEnv() {
  // A delayed send must not run into a destroyed wrapper.
  for (TimerId id : delayed_sends_) target().Cancel(id);
}

Disk& FaultEnv::disk() { return *disk_; }

void FaultEnv::Send(NodeId to, Port port, Bytes message) {
  if (!plan_.Reachable(self(), to)) {
    ++plan_.stats_.partitioned;
    return;
  }
  if (random_.Chance(plan_.drop_rate_)) {
    ++plan_.stats_.dropped;
    return;
  }
  if (random_.Chance(plan_.duplicate_rate_)) {
    ++plan_.stats_.duplicated;
    SendNow(to, port, message);
  }
  SendNow(to, port, std::move(message));
}

void FaultEnv::SendNow(NodeId to, Port port, Bytes message) {
  if (plan_.delay_hi_ <= Duration::zero()) {
    target().Send(to, port, std::move(message));
    return;
  }
  ++plan_.stats_.delayed;
  const Duration delay = random_.UniformDuration(plan_.delay_lo_, plan_.delay_hi_);
  auto id = std::make_shared<TimerId>(kNoTimer);
  *id = target().Schedule(delay, [this, id, to, port, message = std::move(message)]() mutable {
    delayed_sends_.erase(*id);
    target().Send(to, port, std::move(message));
  });
  delayed_sends_.insert(*id);
}

Status FaultEnv::Listen(Port port, Receiver receiver) {
  return target().Listen(port, [this, receiver = std::move(receiver)](NodeId from,
                                                                        ByteView message) {
    if (!plan_.Reachable(from, self())) {
      ++plan_.stats_.partitioned;
      return;
    }
    receiver(from, message);
  });
}

}  // namespace edgebed
