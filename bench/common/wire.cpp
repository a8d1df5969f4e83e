#include "common/wire.h"

#include <cstring>

namespace otelite::bench {

namespace {

// One field of a message: its number, wire type and (for length-delimited fields) its bytes, or
// (for fixed64) its value.
struct Field {
  uint32_t number = 0;
  uint32_t type = 0;
  std::string_view bytes;
  uint64_t fixed64 = 0;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool done() const { return p_ == end_; }
  bool failed() const { return failed_; }

  // The next field, or false at the end or on malformed input (then failed() is true).
  bool Next(Field* f) {
    if (p_ >= end_) return false;
    uint64_t key;
    if (!Varint(&key)) return Fail();
    f->number = uint32_t(key >> 3);
    f->type = uint32_t(key & 7);
    switch (f->type) {
      case 0: {
        uint64_t ignored;
        if (!Varint(&ignored)) return Fail();
        return true;
      }
      case 1:
        if (end_ - p_ < 8) return Fail();
        std::memcpy(&f->fixed64, p_, 8);  // little-endian hosts only (x86-64, aarch64)
        p_ += 8;
        return true;
      case 2: {
        uint64_t len;
        if (!Varint(&len) || uint64_t(end_ - p_) < len) return Fail();
        f->bytes = std::string_view(p_, size_t(len));
        p_ += len;
        return true;
      }
      case 5:
        if (end_ - p_ < 4) return Fail();
        p_ += 4;
        return true;
      default: return Fail();
    }
  }

 private:
  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      auto b = static_cast<uint8_t>(*p_++);
      result |= uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Fail() {
    failed_ = true;
    return false;
  }

  const char* p_;
  const char* end_;
  bool failed_ = false;
};

// Calls `fn` with the bytes of every length-delimited field `number` of `message`.
template <class Fn>
bool ForEach(std::string_view message, uint32_t number, Fn&& fn) {
  Reader r(message);
  Field f;
  while (r.Next(&f)) {
    if (f.number == number && f.type == 2 && !fn(f.bytes)) return false;
  }
  return !r.failed();
}

uint64_t Count(std::string_view message, uint32_t number, bool* ok) {
  uint64_t n = 0;
  *ok = ForEach(message, number, [&](std::string_view) { return ++n, true; }) && *ok;
  return n;
}

}  // namespace

WireCount CountItems(WireSignal signal, std::string_view request,
                     const std::function<void(uint64_t)>& on_probe) {
  WireCount out;
  bool ok = true;
  // Request (1: resource_*) → Resource* (2: scope_*) → Scope* (2: items).
  ok = ForEach(request, 1, [&](std::string_view resource) {
    return ForEach(resource, 2, [&](std::string_view scope) {
      if (signal != WireSignal::kMetrics) {
        bool first = true;
        return ForEach(scope, 2, [&](std::string_view item) {
          ++out.items;
          if (first && signal == WireSignal::kTraces && on_probe) {
            first = false;
            Reader r(item);
            Field f;
            while (r.Next(&f)) {
              if (f.number == 7 && f.type == 1) {  // Span.start_time_unix_nano
                on_probe(f.fixed64);
                break;
              }
            }
          }
          return true;
        });
      }
      // Metric: gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11; each holds
      // data_points as field 1.
      return ForEach(scope, 2, [&](std::string_view metric) {
        Reader r(metric);
        Field f;
        while (r.Next(&f)) {
          if (f.type == 2 && (f.number == 5 || f.number == 7 || f.number == 9 ||
                              f.number == 10 || f.number == 11)) {
            out.items += Count(f.bytes, 1, &ok);
          }
        }
        return !r.failed();
      });
    });
  }) && ok;
  out.ok = ok;
  return out;
}

}  // namespace otelite::bench
