#include "core/storage/sharedv4.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "core/wire/codec.h"

namespace edgebed::storage {

namespace {

constexpr uint16_t kMagic = 0x5334;  // "S4"
constexpr uint8_t kVersion = 1;
constexpr size_t kMaxName = 512;
constexpr size_t kMaxBlock = 1 << 20;
constexpr size_t kRemembered = 256;  // answered writes a server remembers per client

enum Type : uint16_t { kRead = 1, kWrite = 2, kReply = 3 };
enum ReplyKind : uint8_t { kResult = 0, kRedirect = 1 };

}  // namespace

// ---------------------------------------------------------------------------

class SharedVolumeServer::Impl {
 public:
  Impl(Env& env, StorageNode& node) : env_(env), node_(node) {
    (void)env_.Listen(kSharedPort, [this](NodeId from, ByteView m) { OnMessage(from, m); });
  }
  ~Impl() { env_.Unlisten(kSharedPort); }

  SharedVolumeServer::Stats stats_;

 private:
  struct Session {
    std::map<uint64_t, Status> answered;  // writes, by request id
    std::set<uint64_t> running;
  };

  void Reply(NodeId to, uint64_t id, ReplyKind kind, const Status& s, const Bytes& data, NodeId redirect) {
    wire::Writer w;
    wire::WriteHeader(w, {kMagic, kVersion, kReply});
    w.PutU64(id);
    w.PutU8(kind);
    w.PutVarint(static_cast<uint64_t>(s.code()));
    w.PutString(s.ok() ? std::string() : s.ToString());
    w.PutBytes(data);
    w.PutVarint(redirect);
    env_.Send(to, kSharedClientPort, std::move(w).Finish());
  }

  void OnMessage(NodeId from, ByteView bytes) {
    wire::Reader r(bytes);
    wire::Header h;
    uint64_t session = 0, id = 0, block = 0;
    std::string volume;
    Bytes data;
    if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok()) return ++stats_.bad_messages, void();
    (void)r.GetU64(&session);
    (void)r.GetU64(&id);
    (void)r.GetString(kMaxName, &volume);
    (void)r.GetBoundedVarint(UINT32_MAX, &block);
    (void)r.GetBytes(kMaxBlock, &data);
    if (!r.ExpectEnd().ok() || (h.type != kRead && h.type != kWrite)) return ++stats_.bad_messages, void();
    if (!node_.Serving(volume)) {
      ++stats_.redirected;
      return Reply(from, id, kRedirect, Status::Ok(), {}, node_.KnownPrimary(volume));
    }
    ++stats_.served;
    const uint32_t b = static_cast<uint32_t>(block);
    if (h.type == kRead) {
      return node_.Read(volume, b, [this, from, id](StatusOr<Bytes> got) {
        Reply(from, id, kResult, got.status(), got.ok() ? *got : Bytes{}, kNoNode);
      });
    }
    // A client's retransmission of a write answered or under way here is
    // not applied again.
    Session& s = sessions_[{from, session}];
    if (auto done = s.answered.find(id); done != s.answered.end()) return Reply(from, id, kResult, done->second, {}, kNoNode);
    if (!s.running.insert(id).second) return;
    node_.Write(volume, b, std::move(data), [this, from, session, id](Status st) {
      Session& ss = sessions_[{from, session}];
      ss.running.erase(id);
      ss.answered[id] = st;
      while (ss.answered.size() > kRemembered) ss.answered.erase(ss.answered.begin());
      Reply(from, id, kResult, st, {}, kNoNode);
    });
  }

  Env& env_;
  StorageNode& node_;
  std::map<std::pair<NodeId, uint64_t>, Session> sessions_;
};

SharedVolumeServer::SharedVolumeServer(Env& env, StorageNode& node) : impl_(std::make_unique<Impl>(env, node)) {}
SharedVolumeServer::~SharedVolumeServer() = default;
const SharedVolumeServer::Stats& SharedVolumeServer::stats() const { return impl_->stats_; }

// ---------------------------------------------------------------------------

class SharedVolumeClient::Impl {
 public:
  Impl(Env& env, std::vector<NodeId> servers, SharedVolumeClientOptions options)
      : env_(env), servers_(std::move(servers)), options_(options), session_(env.random().Next()) {
    (void)env_.Listen(kSharedClientPort, [this](NodeId from, ByteView m) { OnMessage(from, m); });
    timer_ = env_.Schedule(options_.timeout / 2, [this] { Tick(); });
  }
  ~Impl() {
    env_.Unlisten(kSharedClientPort);
    env_.Cancel(timer_);
  }

  void AddServers(const std::vector<NodeId>& servers) {
    for (NodeId n : servers)
      if (std::find(servers_.begin(), servers_.end(), n) == servers_.end()) servers_.push_back(n);
  }

  struct Op {
    bool write = false;
    std::string volume;
    uint32_t block = 0;
    Bytes data;
    StorageNode::ReadDone read_done;
    StorageNode::WriteDone write_done;
    Time started{}, sent{};
    NodeId target = kNoNode;
  };

  void Read(const std::string& volume, uint32_t block, StorageNode::ReadDone done) {
    Op op;
    op.volume = volume;
    op.block = block;
    op.read_done = std::move(done);
    Start(std::move(op));
  }

  void Write(const std::string& volume, uint32_t block, Bytes data, StorageNode::WriteDone done) {
    Op op;
    op.write = true;
    op.volume = volume;
    op.block = block;
    op.data = std::move(data);
    op.write_done = std::move(done);
    auto& queue = writes_[{volume, block}];
    queue.push_back(std::move(op));
    if (queue.size() == 1) Start(std::move(queue.front()));  // else it waits for the one ahead
  }

  SharedVolumeClient::Stats stats_;

 private:
  void Start(Op op) {
    if (servers_.empty()) return Finish(op, Unavailable("no sharedv4 servers to ask"), {});
    op.started = env_.now();
    auto guess = guess_.find(op.volume);
    op.target = guess != guess_.end() ? guess->second : servers_.front();
    const uint64_t id = next_id_++;
    Send(id, op);
    ops_.emplace(id, std::move(op));
  }

  void Send(uint64_t id, Op& op) {
    op.sent = env_.now();
    wire::Writer w;
    wire::WriteHeader(w, {kMagic, kVersion, op.write ? kWrite : kRead});
    w.PutU64(session_);
    w.PutU64(id);
    w.PutString(op.volume);
    w.PutVarint(op.block);
    w.PutBytes(op.write ? op.data : Bytes{});
    env_.Send(op.target, kSharedPort, std::move(w).Finish());
  }

  NodeId After(NodeId n) const {
    auto it = std::find(servers_.begin(), servers_.end(), n);
    return it == servers_.end() || std::next(it) == servers_.end() ? servers_.front() : *std::next(it);
  }

  void Finish(Op& op, Status s, Bytes data) {
    if (!op.write) {
      auto done = std::move(op.read_done);
      if (s.ok()) return done(std::move(data));
      return done(s);
    }
    auto done = std::move(op.write_done);
    const std::pair<std::string, uint32_t> key{op.volume, op.block};
    auto& queue = writes_[key];
    queue.pop_front();
    if (queue.empty()) {
      writes_.erase(key);
    } else {
      Start(std::move(queue.front()));
    }
    done(s);
  }

  void OnMessage(NodeId from, ByteView bytes) {
    wire::Reader r(bytes);
    wire::Header h;
    uint64_t id = 0, code = 0, redirect = 0;
    uint8_t kind = 0;
    std::string message;
    Bytes data;
    if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok() || h.type != kReply) return;
    (void)r.GetU64(&id);
    (void)r.GetU8(&kind);
    (void)r.GetBoundedVarint(static_cast<uint64_t>(StatusCode::kInternal), &code);
    (void)r.GetString(4096, &message);
    (void)r.GetBytes(kMaxBlock, &data);
    (void)r.GetBoundedVarint(UINT32_MAX, &redirect);
    if (!r.ExpectEnd().ok()) return;
    auto it = ops_.find(id);
    if (it == ops_.end() || it->second.target != from) return;  // late, or from a server no longer asked
    Op& op = it->second;
    if (kind == kRedirect) {
      ++stats_.redirects;
      const NodeId to = static_cast<NodeId>(redirect);
      op.target = to != kNoNode && to != from ? to : After(from);
      guess_[op.volume] = op.target;
      // Not at once if it points back at itself: the volume is between primaries.
      if (to == kNoNode || to == from) return;
      return Send(id, op);
    }
    if (static_cast<StatusCode>(code) == StatusCode::kUnavailable) {
      op.sent = env_.now();  // it stopped serving mid-way: failing over; the tick asks again
      return;
    }
    guess_[op.volume] = from;
    Op done = std::move(op);
    ops_.erase(it);
    Finish(done, code == 0 ? Status::Ok() : Status(static_cast<StatusCode>(code), message), std::move(data));
  }

  void Tick() {
    const Time now = env_.now();
    std::vector<uint64_t> expired;
    for (auto& [id, op] : ops_) {
      if (now - op.started > options_.deadline) {
        expired.push_back(id);
      } else if (now - op.sent >= options_.timeout) {
        ++stats_.retries;
        op.target = After(op.target);
        Send(id, op);
      }
    }
    for (uint64_t id : expired) {
      Op op = std::move(ops_.at(id));
      ops_.erase(id);
      Finish(op, Unavailable("no sharedv4 server answered for volume " + op.volume), {});
    }
    timer_ = env_.Schedule(options_.timeout / 2, [this] { Tick(); });
  }

  Env& env_;
  std::vector<NodeId> servers_;
  SharedVolumeClientOptions options_;
  const uint64_t session_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Op> ops_;
  std::map<std::pair<std::string, uint32_t>, std::deque<Op>> writes_;  // per block: the front is on its way
  std::map<std::string, NodeId> guess_;  // where each volume was last served
  TimerId timer_ = kNoTimer;
};

SharedVolumeClient::SharedVolumeClient(Env& env, std::vector<NodeId> servers, SharedVolumeClientOptions options)
    : impl_(std::make_unique<Impl>(env, std::move(servers), options)) {}
SharedVolumeClient::~SharedVolumeClient() = default;
void SharedVolumeClient::AddServers(const std::vector<NodeId>& servers) { impl_->AddServers(servers); }
void SharedVolumeClient::Read(const std::string& volume, uint32_t block, StorageNode::ReadDone done) {
  impl_->Read(volume, block, std::move(done));
}
void SharedVolumeClient::Write(const std::string& volume, uint32_t block, Bytes data, StorageNode::WriteDone done) {
  impl_->Write(volume, block, std::move(data), std::move(done));
}
const SharedVolumeClient::Stats& SharedVolumeClient::stats() const { return impl_->stats_; }

}  // namespace edgebed::storage
