#pragma once
#include <utility>
#include <vector>

#include "pdata/payload.h"

namespace otelite {

// Joins payloads of one signal into one request without decoding them: protobuf encodings of
// messages concatenate into the encoding of their merge, and every field of an Export*Request is
// repeated, so the result holds all the parts' resource entries in order.
Batch Concat(Signal signal, const std::vector<Batch>& parts,
             std::shared_ptr<const ClientMetadata> metadata = {});

// Splits a payload into its first `n` items and the rest, keeping each item under its own
// resource and scope (a resource or scope cut in two appears in both halves; a metric cut in two
// keeps its name, unit and kind in both). Decodes the payload. Requires 0 < n < item_count().
std::pair<Batch, Batch> SplitAt(const Payload& payload, size_t n);

}  // namespace otelite
