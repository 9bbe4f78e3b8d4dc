#include "core/cluster/sync.h"

#include <algorithm>

namespace edgebed::cluster {

void EncodeChunk(wire::Writer& w, const SyncChunk& chunk) {
  w.PutU64(chunk.epoch);
  w.PutVarint(chunk.from);
  w.PutVarint(chunk.to);
  w.PutU8(chunk.last ? 1 : 0);
  w.PutVarint(chunk.entries.size());
  for (const SyncEntry& e : chunk.entries) {
    w.PutString(e.key);
    w.PutU8(e.present ? 1 : 0);
    if (e.present) w.PutBytes(e.value);
  }
}

Status DecodeChunk(wire::Reader& r, SyncChunk* chunk) {
  uint8_t last = 0;
  uint64_t count = 0;
  (void)r.GetU64(&chunk->epoch);
  (void)r.GetVarint(&chunk->from);
  (void)r.GetVarint(&chunk->to);
  (void)r.GetU8(&last);
  (void)r.GetBoundedVarint(kMaxSyncEntries, &count);
  if (!r.status().ok()) return r.status();
  if (last > 1) return Corruption("sync chunk: flag byte " + std::to_string(last));
  if (chunk->to < chunk->from)
    return Corruption("sync chunk: ends (" + std::to_string(chunk->to) + ") before it starts (" +
                              std::to_string(chunk->from) + ")");
  chunk->last = last == 1;
  chunk->entries.clear();
  // Every entry takes at least two bytes (its key's length and its flag): a
  // count the message cannot hold must not size the allocation.
  chunk->entries.reserve(std::min<uint64_t>(count, r.remaining() / 2));
  for (uint64_t i = 0; i < count && r.status().ok(); ++i) {
    SyncEntry e;
    uint8_t present = 0;
    (void)r.GetString(kMaxSyncKey, &e.key);
    (void)r.GetU8(&present);
    if (present > 1) return Corruption("sync entry: flag byte " + std::to_string(present));
    e.present = present == 1;
    if (e.present) (void)r.GetBytes(kMaxSyncValue, &e.value);
    chunk->entries.push_back(std::move(e));
  }
  return r.status();
}

void EncodeAck(wire::Writer& w, const SyncAck& ack) {
  w.PutU64(ack.epoch);
  w.PutVarint(ack.seq);
}

Status DecodeAck(wire::Reader& r, SyncAck* ack) {
  (void)r.GetU64(&ack->epoch);
  (void)r.GetVarint(&ack->seq);
  return r.status();
}

bool SyncSender::Put(const std::string& key, Bytes value) {
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    if (it->second.present && it->second.value == value) return false;
    by_seq_.erase(it->second.seq);
  } else {
    it = slots_.emplace(key, Slot{}).first;
  }
  live_[key] = value;
  it->second = Slot{std::move(value), ++seq_, true};
  by_seq_[seq_] = key;
  return true;
}

bool SyncSender::Erase(const std::string& key) {
  auto it = slots_.find(key);
  if (it == slots_.end() || !it->second.present) return false;
  by_seq_.erase(it->second.seq);
  live_.erase(key);
  it->second = Slot{{}, ++seq_, false};
  by_seq_[seq_] = key;
  return true;
}

const Bytes* SyncSender::Find(const std::string& key) const {
  auto it = live_.find(key);
  return it == live_.end() ? nullptr : &it->second;
}

std::optional<SyncChunk> SyncSender::Next(size_t max_bytes, uint64_t limit) const {
  limit = std::min(limit, seq_);
  const bool fresh = acked_epoch_ != epoch_;
  const uint64_t from = fresh ? 0 : acked_;
  if (!fresh && from >= limit) return std::nullopt;
  SyncChunk chunk;
  chunk.epoch = epoch_;
  chunk.from = from;
  chunk.to = from;
  size_t bytes = 0;
  bool complete = true;
  for (auto it = by_seq_.upper_bound(from); it != by_seq_.end() && it->first <= limit; ++it) {
    const Slot& slot = slots_.at(it->second);
    // A receiver starting from nothing needs no word of what is gone.
    if (from == 0 && !slot.present) {
      chunk.to = it->first;
      continue;
    }
    size_t size = it->second.size() + slot.value.size() + 16;
    if (!chunk.entries.empty() && bytes + size > max_bytes) {
      complete = false;
      break;
    }
    bytes += size;
    chunk.entries.push_back(SyncEntry{it->second, slot.present, slot.value});
    chunk.to = it->first;
  }
  if (complete) chunk.to = limit;
  chunk.last = chunk.to == seq_;
  return chunk;
}

void SyncSender::OnAck(const SyncAck& ack) {
  if (ack.epoch != epoch_) {
    ResetReceiver();
    return;
  }
  if (ack.seq > seq_) return;  // not an answer to anything this sender sent
  if (acked_epoch_ == epoch_ && ack.seq < acked_) {
    acked_ = ack.seq;  // it lost ground (a duplicate, or it restarted its catch-up): go back
    return;
  }
  acked_epoch_ = epoch_;
  acked_ = ack.seq;
  // Erasures the receiver holds need not be kept for it any longer.
  for (auto it = by_seq_.begin(); it != by_seq_.end() && it->first <= acked_;) {
    auto slot = slots_.find(it->second);
    if (!slot->second.present) {
      slots_.erase(slot);
      it = by_seq_.erase(it);
    } else {
      ++it;
    }
  }
}

void SyncSender::ResetReceiver() {
  acked_epoch_ = 0;
  acked_ = 0;
}

SyncAck SyncReceiver::Apply(const SyncChunk& chunk, std::vector<std::string>* changed) {
  if (chunk.epoch == epoch_ && !incoming_) {
    if (chunk.from != seq_) return position();  // a gap, or old news
    for (const SyncEntry& e : chunk.entries) {
      if (e.present) {
        auto [it, inserted] = values_.try_emplace(e.key, e.value);
        if (!inserted) {
          if (it->second == e.value) continue;
          it->second = e.value;
        }
      } else if (values_.erase(e.key) == 0) {
        continue;
      }
      if (changed) changed->push_back(e.key);
    }
    seq_ = chunk.to;
    return position();
  }
  // Another epoch: only a catch-up from nothing, chunk after chunk.
  if (chunk.from == 0) {
    incoming_.emplace();
    incoming_epoch_ = chunk.epoch;
    incoming_seq_ = 0;
  }
  if (!incoming_ || chunk.epoch != incoming_epoch_ || chunk.from != incoming_seq_)
    return incoming_ ? SyncAck{incoming_epoch_, incoming_seq_} : position();
  for (const SyncEntry& e : chunk.entries) {
    if (e.present)
      (*incoming_)[e.key] = e.value;
    else
      incoming_->erase(e.key);
  }
  incoming_seq_ = chunk.to;
  if (!chunk.last) return {incoming_epoch_, incoming_seq_};
  if (changed) {
    for (const auto& [key, value] : values_) {
      auto it = incoming_->find(key);
      if (it == incoming_->end() || it->second != value) changed->push_back(key);
    }
    for (const auto& [key, value] : *incoming_)
      if (!values_.count(key)) changed->push_back(key);
  }
  values_ = std::move(*incoming_);
  incoming_.reset();
  epoch_ = incoming_epoch_;
  seq_ = incoming_seq_;
  return position();
}

}  // namespace edgebed::cluster
