#pragma once
// Synthetic OTLP export requests shaped like an instrumented service's: one resource with the
// usual attributes, one scope, `spans` spans with a handful of attributes each.
#include <cstdint>
#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otelite::bench {

// The first span's start and end times hold these placeholders so that a sender can find their
// bytes in the encoding and stamp the real send time there (see ProbeOffsets).
inline constexpr uint64_t kProbeStart = 0x0123456789abcdefULL;
inline constexpr uint64_t kProbeEnd = 0x0123456789abcdf0ULL;

opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest MakeTraceRequest(
    int spans, uint64_t seed, int service = 0);

// A request's encoding with the offsets of the first span's start and end time values.
struct EncodedRequest {
  std::string bytes;
  size_t start_offset = 0;
  size_t end_offset = 0;
  int spans = 0;
};
EncodedRequest EncodeWithProbe(int spans, uint64_t seed, int service = 0);

}  // namespace otelite::bench
