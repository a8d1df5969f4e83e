#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace otelite {

enum class DecompressResult { kOk, kTooLarge, kCorrupt };

// Inflates gzip (or zlib) data into `out`, stopping with kTooLarge as soon as the output would
// pass `limit` bytes, so a small compressed bomb never allocates more than the limit.
DecompressResult GunzipLimited(std::string_view in, size_t limit, std::string* out);
// The same for one or more zstd frames.
DecompressResult ZstdDecompressLimited(std::string_view in, size_t limit, std::string* out);

std::string ZstdCompress(std::string_view in, int level = 3);
std::string GzipCompress(std::string_view in);

}  // namespace otelite
