// libFuzzer target for the cluster's wire protocol. Any bytes, taken
//   - as a message off the wire, as it is and behind the cluster's magic:
//     DecodeEnvelope, every join message's Decode, PeekSession, OpenSession;
//   - the same re-signed (its last 16 bytes replaced with the MAC, under a
//     fixed session key, of what precedes them), and as the body of a message
//     of each type behind a made header (and MAC): so OpenSession reaches
//     DecodeChunk and DecodeAck and the MAC does not stop the fuzzer there;
//   - as every record the cluster keeps or sends (pod assignment, endpoint,
//     network set, labels, pod report, node status, volume placement);
//   - as a sync chunk and a sync ack straight off a reader,
// never crash, leak, trip UBSan or allocate by an unchecked length (run it
// with -malloc_limit_mb=1 to check that last: no input of 64 KiB needs a
// megabyte). Whatever decodes encodes to bytes that decode to the same thing.
// A decoded chunk or ack thrown at a SyncReceiver (fresh, caught up, midway
// through a snapshot) and a SyncSender never breaks them; a chunk's entries
// made by an honest sender reach a receiver whole. Build and run with
// ./build.sh fuzz.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/base/ip.h"
#include "core/cluster/auth.h"
#include "core/cluster/protocol.h"
#include "core/cluster/records.h"
#include "core/cluster/sync.h"
#include "core/wire/codec.h"

namespace {

using namespace edgebed;
using namespace edgebed::cluster;

void Check(bool ok) {
  if (!ok) std::abort();
}

const Key& SessionKeyForFuzzing() {
  static const Key key = DeriveClusterKey("cluster wire fuzzer");
  return key;
}

// A record that decodes encodes to bytes that decode, and re-encode to
// themselves.
template <typename R>
void Record(ByteView b) {
  R r;
  Status s = Decode(b, &r);
  (void)s.ToString();
  if (!s.ok()) return;
  const Bytes once = Encode(r);
  R again;
  Check(Decode(once, &again).ok());
  Check(Encode(again) == once);
}

void Labels(ByteView b) {
  model::Labels labels;
  Status s = DecodeLabels(b, &labels);
  (void)s.ToString();
  if (!s.ok()) return;
  const Bytes once = EncodeLabels(labels);
  model::Labels again;
  Check(DecodeLabels(once, &again).ok());
  Check(again == labels);
}

void Records(ByteView b) {
  Record<PodAssignment>(b);
  Record<policy::Endpoint>(b);
  Record<policy::NetworkSet>(b);
  Record<PodReport>(b);
  Record<NodeStatus>(b);
  Record<VolumePlacementRecord>(b);
  Labels(b);
}

// A join message of type T decodes only from an envelope of its type, and
// what decodes round-trips.
template <typename T>
void JoinMessage(const Envelope& e, MessageType type) {
  T m;
  Status s = Decode(e, &m);
  (void)s.ToString();
  if (e.type != type) {
    Check(!s.ok());
    return;
  }
  if (!s.ok()) return;
  const Bytes once = Encode(m);
  Envelope oe;
  Check(DecodeEnvelope(once, &oe).ok());
  Check(oe.type == type);
  T again;
  Check(Decode(oe, &again).ok());
  Check(Encode(again) == once);
}

// Sync state a chunk or an ack may be thrown at: a sender with history (an
// overwrite, an erasure), and receivers that hold nothing, that hold its
// epoch, and that are midway through another epoch's snapshot.
void Sync(const SyncChunk* chunk, const SyncAck* ack) {
  SyncSender sender(7);
  sender.Put("pod/a", Bytes{1});
  sender.Put("pod/b", Bytes{2});
  sender.Put("pod/c", Bytes{3});
  sender.Erase("pod/b");
  sender.Put("pod/a", Bytes{4});
  SyncReceiver synced, fresh;
  for (int i = 0; i < 16; ++i) {
    std::optional<SyncChunk> next = sender.Next(8);
    if (!next) break;
    sender.OnAck(synced.Apply(*next, nullptr));
  }
  Check(sender.caught_up());
  Check(synced.values() == sender.values());
  // And one that has the first chunk of another epoch's snapshot.
  SyncReceiver midway = synced;
  SyncSender restarted(8);
  restarted.Put("pod/a", Bytes{6});
  restarted.Put("pod/e", Bytes{7});
  if (std::optional<SyncChunk> first = restarted.Next(1)) midway.Apply(*first, nullptr);

  std::vector<std::string> changed;
  if (chunk) {
    for (SyncReceiver* r : {&fresh, &synced, &midway}) {
      sender.OnAck(r->Apply(*chunk, &changed));
      sender.OnAck(r->Apply(*chunk, &changed));  // a duplicate
    }
  }
  if (ack) sender.OnAck(*ack);
  // Whatever the sender now believes, it goes on sending and taking acks.
  sender.Put("pod/d", Bytes{5});
  sender.Erase("pod/c");
  for (SyncReceiver* r : {&fresh, &synced, &midway}) {
    for (int i = 0; i < 8; ++i) {
      std::optional<SyncChunk> next = sender.Next(8);
      if (!next) break;
      sender.OnAck(r->Apply(*next, &changed));
    }
  }
  sender.ResetReceiver();
  if (std::optional<SyncChunk> next = sender.Next(1 << 10)) sender.OnAck(fresh.Apply(*next, &changed));
}

// Sends everything `sender` has to `receiver`, in order and without loss:
// every round moves the receiver on, so it takes at most `rounds`.
void Deliver(SyncSender& sender, SyncReceiver& receiver, size_t max_bytes, size_t rounds,
             uint64_t limit = UINT64_MAX) {
  for (size_t i = 0; i < rounds; ++i) {
    std::optional<SyncChunk> next = sender.Next(max_bytes, limit);
    if (!next) return;
    std::vector<std::string> changed;
    sender.OnAck(receiver.Apply(*next, &changed));
  }
  Check(!sender.Next(max_bytes, limit));  // it made no progress
}

// The chunk's entries as the changes an honest sender makes: whatever they
// are, a receiver that hears every chunk holds the sender's values, and a
// restarted sender (a new epoch) brings it there again with a snapshot.
void Converge(const SyncChunk& chunk) {
  const size_t n = std::min<size_t>(chunk.entries.size(), 64);
  const size_t max_bytes = 1 + chunk.from % 512;
  const size_t rounds = 2 * n + 4;
  const uint64_t epoch = 1 + chunk.epoch % 1000;
  SyncSender sender(epoch);
  SyncReceiver receiver;
  auto change = [&](size_t i) {
    const SyncEntry& e = chunk.entries[i];
    if (e.present)
      sender.Put(e.key, e.value);
    else
      sender.Erase(e.key);
  };
  for (size_t i = 0; i < n / 2; ++i) change(i);
  Deliver(sender, receiver, max_bytes, rounds, sender.seq() / 2);  // a part only
  Deliver(sender, receiver, max_bytes, rounds);
  Check(sender.caught_up());
  Check(receiver.values() == sender.values());
  for (size_t i = n / 2; i < n; ++i) change(i);
  Deliver(sender, receiver, max_bytes, rounds);
  Check(sender.caught_up());
  Check(receiver.values() == sender.values());

  SyncSender restarted(epoch + 1);
  for (const auto& [key, value] : sender.values()) restarted.Put(key, value);
  Deliver(restarted, receiver, max_bytes, rounds);
  Check(restarted.caught_up());
  Check(receiver.values() == restarted.values());
}

void SyncChunkBody(const SyncChunk& chunk) {
  // What a chunk carries is records.
  for (const SyncEntry& e : chunk.entries) Records(e.value);
  Sync(&chunk, nullptr);
  Converge(chunk);
}

// Opens a message as a session message under `key`, and checks what opens.
void Session(const Envelope& e, ByteView whole, const Key& key) {
  SessionHeader h;
  Status peek = PeekSession(e, &h);
  (void)peek.ToString();
  if (static_cast<uint16_t>(e.type) < 16) Check(!peek.ok());
  Body body;
  Status s = OpenSession(e, whole, key, &body);
  (void)s.ToString();
  if (!s.ok()) return;
  Check(peek.ok());
  if (auto* m = std::get_if<Renew>(&body)) Sync(nullptr, &m->view);
  if (auto* m = std::get_if<ViewAck>(&body)) Sync(nullptr, &m->ack);
  if (auto* m = std::get_if<StatusAck>(&body)) Sync(nullptr, &m->ack);
  if (auto* m = std::get_if<ViewSync>(&body)) SyncChunkBody(m->chunk);
  if (auto* m = std::get_if<StatusSync>(&body)) SyncChunkBody(m->chunk);
  // It encodes to a message that opens to the same body.
  const Bytes once = EncodeSession(h.session, h.counter, key, body);
  Envelope oe;
  Check(DecodeEnvelope(once, &oe).ok());
  Check(oe.type == e.type);
  SessionHeader oh;
  Check(PeekSession(oe, &oh).ok());
  Check(oh.session == h.session && oh.counter == h.counter);
  Body again;
  Check(OpenSession(oe, once, key, &again).ok());
  Check(again.index() == body.index());
  Check(EncodeSession(h.session, h.counter, key, again) == once);
}

// The whole pipeline a receiver runs on a message off the wire.
void Message(ByteView message) {
  Envelope e;
  Status s = DecodeEnvelope(message, &e);
  (void)s.ToString();
  if (!s.ok()) return;
  (void)MessageTypeName(e.type);
  JoinMessage<Hello>(e, MessageType::kHello);
  JoinMessage<Challenge>(e, MessageType::kChallenge);
  JoinMessage<Join>(e, MessageType::kJoin);
  JoinMessage<Welcome>(e, MessageType::kWelcome);
  JoinMessage<Refuse>(e, MessageType::kRefuse);
  JoinMessage<UnknownSession>(e, MessageType::kUnknownSession);
  Session(e, message, SessionKeyForFuzzing());
}

// A network set record of one net, written as `text`.
Bytes NetworkSetOf(std::string_view text) {
  wire::Writer w;
  w.PutU8(1);  // the record version
  w.PutString("ns");
  w.PutString("set");
  w.PutVarint(0);  // no labels
  w.PutVarint(1);
  w.PutString(text);
  return std::move(w).Finish();
}

// The input as a message off the wire, and as a session message whose MAC
// holds: its last 16 bytes replaced with the MAC of what precedes them under
// the fixed key, as EncodeSession makes it.
void Wire(ByteView message) {
  constexpr size_t kMac = sizeof(Mac);
  Message(message);
  if (message.size() >= kMac) {
    Bytes signed_message = message.ToBytes();
    const Mac mac = Prove(SessionKeyForFuzzing(), "session message", message.substr(0, message.size() - kMac));
    std::copy(mac.begin(), mac.end(), signed_message.end() - kMac);
    Message(signed_message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  const Key& key = SessionKeyForFuzzing();

  // 1. The input as it is (its MAC will rarely hold, and re-signed).
  Wire(input);

  // 2. The same behind the cluster's magic: the version and type are the
  // input's first bytes.
  {
    wire::Writer w;
    w.PutU16(kClusterMagic);
    w.PutRaw(input);
    Wire(std::move(w).Finish());
  }

  // 3. The input as a message body behind a header of the type its first
  // byte picks (the fuzzer need not find the magic to reach every decoder);
  // a session message also gets an id, a counter and its MAC.
  if (size >= 1) {
    static constexpr MessageType kTypes[] = {
        MessageType::kHello,    MessageType::kChallenge, MessageType::kJoin,       MessageType::kWelcome,
        MessageType::kRefuse,   MessageType::kUnknownSession, MessageType::kRenew, MessageType::kRenewAck,
        MessageType::kViewSync, MessageType::kViewAck,   MessageType::kStatusSync, MessageType::kStatusAck};
    constexpr size_t kTypeCount = sizeof(kTypes) / sizeof(kTypes[0]);
    const MessageType type = kTypes[data[0] % kTypeCount];
    const bool session = static_cast<uint16_t>(type) >= 16;
    wire::Writer w;
    wire::WriteHeader(w, {kClusterMagic, kClusterVersion, static_cast<uint16_t>(type)});
    if (session) {
      w.PutU64(0x5E55);
      w.PutU64(size);
    }
    w.PutRaw(input.substr(1));
    Bytes framed = std::move(w).Finish();
    if (session) {
      const Mac mac = Prove(key, "session message", framed);
      framed.insert(framed.end(), mac.begin(), mac.end());
    }
    Message(framed);
  }

  // 4. The input as each record, and as the text of a network set's net:
  // as it is, and (inet_pton is not instrumented, so the fuzzer cannot find
  // its way to a valid address) a prefix made of its bytes.
  Records(input);
  if (size <= 64) Record<policy::NetworkSet>(NetworkSetOf(input.AsStringView()));
  if (size >= 1) {
    IpPrefix p;
    p.family = data[0] & 1 ? 6 : 4;
    const size_t n = std::min<size_t>(size - 1, p.family == 4 ? 4 : 16);
    std::copy(data + 1, data + 1 + n, p.bytes.begin());
    p.prefix = (data[0] >> 1) % (p.family == 4 ? 33 : 129);
    Record<policy::NetworkSet>(NetworkSetOf(p.ToString()));
  }

  // 5. The input as a chunk and as an ack, straight off a reader.
  {
    wire::Reader r(input);
    SyncChunk chunk;
    if (DecodeChunk(r, &chunk).ok()) SyncChunkBody(chunk);
    wire::Reader ar(input);
    SyncAck ack;
    if (DecodeAck(ar, &ack).ok()) Sync(nullptr, &ack);
  }
  return 0;
}
