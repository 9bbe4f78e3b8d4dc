#include "core/policy/dataplane.h"

namespace edgebed::policy {

const char* TcpStateName(TcpState state) {
  static const char* const kNames[] = {"NONE",      "SYN_SENT",   "SYN_RECV",
                                       "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
                                       "LAST_ACK",  "TIME_WAIT",  "CLOSE"};
  return kNames[static_cast<int>(state)];
}

size_t Dataplane::KeyHash::operator()(const Key& k) const {
  // splitmix64 over the packed tuple: cheap and well mixed.
  uint64_t x = (uint64_t{k.src} << 32 | k.dst) ^
               (uint64_t{k.src_port} << 40 | uint64_t{k.dst_port} << 16 | k.protocol) *
                   0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return static_cast<size_t>(x ^ (x >> 31));
}

Dataplane::Dataplane(const Classifier* classifier, const Inventory* inventory, Options options)
    : classifier_(classifier), inventory_(inventory), options_(std::move(options)) {
  for (const std::string& key : options_.local_endpoints) {
    if (const Endpoint* e = inventory_->FindEndpoint(key)) {
      local_addresses_.insert(e->ips.begin(), e->ips.end());
    }
  }
  table_.reserve(std::min<size_t>(options_.conntrack.max_entries, 1 << 16) * 2);
}

void Dataplane::Reprogram(const Classifier* classifier, const Inventory* inventory,
                          std::vector<std::string> local_endpoints) {
  classifier_ = classifier;
  inventory_ = inventory;
  options_.local_endpoints = std::move(local_endpoints);
  local_addresses_.clear();
  for (const std::string& key : options_.local_endpoints)
    if (const Endpoint* e = inventory_->FindEndpoint(key)) local_addresses_.insert(e->ips.begin(), e->ips.end());
}

Dataplane::Key Dataplane::KeyOf(const Packet& p) {
  if (p.protocol == kIcmp || p.protocol == kIcmpv6) {
    // An echo and its reply share the identifier, carried in src_port.
    return Key{p.src, p.dst, p.src_port, p.src_port, p.protocol};
  }
  return Key{p.src, p.dst, p.src_port, p.dst_port, p.protocol};
}

Dataplane::Key Dataplane::Reversed(const Key& k) {
  return Key{k.dst, k.src, k.dst_port, k.src_port, k.protocol};
}

bool Dataplane::Local(uint32_t address) const {
  return options_.local_endpoints.empty() || local_addresses_.count(address);
}

Verdict Dataplane::Classify(const Packet& packet) const {
  // An end that lives on another node is that node's to judge.
  return JudgeBothEnds(*inventory_, packet, [&](const Endpoint& e, Direction d) {
    if (!Local(e.ips.empty() ? 0 : e.ips.front())) {
      Decision remote;
      remote.by = Decision::By::kRemote;
      return remote;
    }
    return classifier_->Evaluate(e, d, packet);
  });
}

void Dataplane::Unlink(uint32_t slot) {
  Entry& e = slots_[slot];
  (e.prev == kNil ? head_ : slots_[e.prev].next) = e.next;
  (e.next == kNil ? tail_ : slots_[e.next].prev) = e.prev;
  e.prev = e.next = kNil;
}

void Dataplane::Touch(uint32_t slot) {
  if (head_ == slot) return;
  Unlink(slot);
  PushFront(slot);
}

void Dataplane::PushFront(uint32_t slot) {
  Entry& e = slots_[slot];
  e.next = head_;
  if (head_ != kNil) slots_[head_].prev = slot;
  head_ = slot;
  if (tail_ == kNil) tail_ = slot;
}

void Dataplane::Erase(uint32_t slot) {
  Unlink(slot);
  const Key key = slots_[slot].key;
  table_.erase(key);
  table_.erase(Reversed(key));
  free_.push_back(slot);
}

uint32_t Dataplane::Insert(const Key& key, Time now) {
  if (tracked() >= options_.conntrack.max_entries && tail_ != kNil) {
    Erase(tail_);
    ++stats_.evicted;
  }
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
    slots_[slot] = Entry{};
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Entry& e = slots_[slot];
  e.key = key;
  e.expires = now;
  table_[key] = slot;
  table_[Reversed(key)] = slot;
  PushFront(slot);
  return slot;
}

void Dataplane::Advance(Entry& e, const Packet& p, bool reply, Time now) {
  const ConntrackOptions& o = options_.conntrack;
  if (reply) e.replied = true;
  Duration timeout = o.other;
  if (p.protocol == kTcp) {
    const uint8_t f = p.tcp_flags;
    TcpState& s = e.tcp;
    if (f & kRst) {
      s = TcpState::kClose;
    } else if (s == TcpState::kNone) {
      s = TcpState::kSynSent;
    } else if (s == TcpState::kSynSent && reply && (f & kSyn) && (f & kAck)) {
      s = TcpState::kSynRecv;
    } else if (s == TcpState::kSynRecv && !reply && (f & kAck) && !(f & kSyn)) {
      s = TcpState::kEstablished;
    } else if (s == TcpState::kEstablished && (f & kFin)) {
      s = reply ? TcpState::kCloseWait : TcpState::kFinWait;
    } else if ((s == TcpState::kFinWait && reply && (f & kFin)) ||
               (s == TcpState::kCloseWait && !reply && (f & kFin))) {
      s = TcpState::kLastAck;
    } else if (s == TcpState::kLastAck && (f & kAck) && !(f & kFin)) {
      s = TcpState::kTimeWait;
    }
    switch (s) {
      case TcpState::kNone:
      case TcpState::kSynSent: timeout = o.tcp_syn_sent; break;
      case TcpState::kSynRecv: timeout = o.tcp_syn_recv; break;
      case TcpState::kEstablished: timeout = o.tcp_established; break;
      case TcpState::kFinWait: timeout = o.tcp_fin_wait; break;
      case TcpState::kCloseWait: timeout = o.tcp_close_wait; break;
      case TcpState::kLastAck: timeout = o.tcp_last_ack; break;
      case TcpState::kTimeWait: timeout = o.tcp_time_wait; break;
      case TcpState::kClose: timeout = o.tcp_close; break;
    }
  } else if (p.protocol == kUdp || p.protocol == kUdpLite) {
    timeout = e.replied ? o.udp_stream : o.udp;
  } else if (p.protocol == kIcmp || p.protocol == kIcmpv6) {
    timeout = o.icmp;
  }
  e.expires = now + timeout;
}

Dataplane::Result Dataplane::Process(const Packet& packet, Time now) {
  ++stats_.packets;
  Result r;
  const Key key = KeyOf(packet);
  if (auto it = table_.find(key); it != table_.end()) {
    const uint32_t slot = it->second;
    Entry& e = slots_[slot];
    const bool reply = !(e.key == key);
    const bool reopen = packet.protocol == kTcp && !reply && (packet.tcp_flags & kSyn) &&
                        !(packet.tcp_flags & kAck) &&
                        (e.tcp == TcpState::kTimeWait || e.tcp == TcpState::kClose);
    if (e.expires <= now || reopen) {
      // Gone: the packet starts afresh, and is classified again.
      stats_.expired += e.expires <= now;
      Erase(slot);
    } else {
      Advance(e, packet, reply, now);
      Touch(slot);
      ++stats_.fast_path;
      r.allowed = true;
      r.path = reply ? Path::kReply : Path::kEstablished;
      return r;
    }
  }
  if (packet.protocol == kTcp && ((packet.tcp_flags & (kSyn | kAck | kRst)) != kSyn)) {
    ++stats_.invalid;
    r.path = Path::kInvalid;
    return r;
  }
  r.path = Path::kNew;
  r.verdict = Classify(packet);
  r.allowed = r.verdict.allowed;
  if (!r.allowed) {
    ++stats_.new_denied;
    return r;
  }
  ++stats_.new_allowed;
  const uint32_t slot = Insert(key, now);
  Advance(slots_[slot], packet, false, now);
  return r;
}

TcpState Dataplane::StateOf(const Packet& packet) const {
  auto it = table_.find(KeyOf(packet));
  return it == table_.end() ? TcpState::kNone : slots_[it->second].tcp;
}

}  // namespace edgebed::policy
