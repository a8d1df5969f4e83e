#include "pdata/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <memory>

namespace otelite {

DecompressResult GunzipLimited(std::string_view in, size_t limit, std::string* out) {
  out->clear();
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return DecompressResult::kCorrupt;  // gzip or zlib
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char buf[64 * 1024];
  DecompressResult result = DecompressResult::kCorrupt;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = sizeof buf - zs.avail_out;
    if (out->size() + produced > limit) {
      result = DecompressResult::kTooLarge;
      break;
    }
    out->append(buf, produced);
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are valid gzip: keep going while input remains.
      if (zs.avail_in > 0 && inflateReset(&zs) == Z_OK) continue;
      result = DecompressResult::kOk;
      break;
    }
    if (rc != Z_OK || (produced == 0 && zs.avail_in == 0)) break;
  }
  inflateEnd(&zs);
  return result;
}

DecompressResult ZstdDecompressLimited(std::string_view in, size_t limit, std::string* out) {
  out->clear();
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  size_t last = 0;
  while (input.pos < input.size) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(dctx.get(), &output, &input);
    if (ZSTD_isError(last)) return DecompressResult::kCorrupt;
    if (out->size() + output.pos > limit) return DecompressResult::kTooLarge;
    out->append(buf.data(), output.pos);
    if (output.pos == 0 && last != 0 && input.pos == input.size) break;
  }
  // Flush what the decoder still holds.
  while (last != 0) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(dctx.get(), &output, &input);
    if (ZSTD_isError(last)) return DecompressResult::kCorrupt;
    if (output.pos == 0) break;
    if (out->size() + output.pos > limit) return DecompressResult::kTooLarge;
    out->append(buf.data(), output.pos);
  }
  return last == 0 ? DecompressResult::kOk : DecompressResult::kCorrupt;
}

std::string ZstdCompress(std::string_view in, int level) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

std::string GzipCompress(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace otelite
