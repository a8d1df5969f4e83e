#include "pdata/compression.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace otelite {
namespace {

constexpr size_t kMiB = 1 << 20;

std::string Sample(size_t n, uint32_t seed = 1) {
  // Half random (incompressible), half text: exercises several internal buffers.
  std::mt19937 rng(seed);
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    if (out.size() % 2048 < 1024) out.push_back(char(rng() & 0xFF));
    else out += "otelite ";
  }
  out.resize(n);
  return out;
}

TEST(Gzip, RoundTrip) {
  for (size_t n : {size_t(0), size_t(1), size_t(1000), size_t(300 * 1024)}) {
    std::string data = Sample(n);
    std::string compressed = GzipCompress(data);
    ASSERT_GE(compressed.size(), 10u);
    EXPECT_EQ(uint8_t(compressed[0]), 0x1f);  // gzip magic
    EXPECT_EQ(uint8_t(compressed[1]), 0x8b);
    std::string out = "stale";
    EXPECT_EQ(GunzipLimited(compressed, 10 * kMiB, &out), DecompressResult::kOk) << n;
    EXPECT_EQ(out, data) << n;
  }
}

TEST(Gzip, LimitIsInclusive) {
  std::string data(200000, 'a');
  std::string compressed = GzipCompress(data);
  std::string out;
  EXPECT_EQ(GunzipLimited(compressed, data.size(), &out), DecompressResult::kOk);
  EXPECT_EQ(out.size(), data.size());
  EXPECT_EQ(GunzipLimited(compressed, data.size() - 1, &out), DecompressResult::kTooLarge);
  EXPECT_LE(out.size(), data.size() - 1);
}

TEST(Gzip, BombStopsAtTheLimitWithoutAllocatingMore) {
  std::string compressed = GzipCompress(std::string(100 * kMiB, '\0'));
  ASSERT_LT(compressed.size(), 200 * 1024u);
  std::string out;
  EXPECT_EQ(GunzipLimited(compressed, kMiB, &out), DecompressResult::kTooLarge);
  EXPECT_LE(out.size(), kMiB);
  EXPECT_LE(out.capacity(), kMiB + 128 * 1024);
}

TEST(Gzip, CorruptInput) {
  std::string out;
  EXPECT_EQ(GunzipLimited("this is not gzip at all", kMiB, &out), DecompressResult::kCorrupt);
  std::string compressed = GzipCompress(Sample(50000));
  // Truncated stream.
  EXPECT_EQ(GunzipLimited(compressed.substr(0, compressed.size() / 2), kMiB, &out),
            DecompressResult::kCorrupt);
  // A flipped byte in the deflate data or the CRC.
  std::string flipped = compressed;
  flipped[flipped.size() - 6] ^= 0x55;  // inside the CRC32 trailer
  EXPECT_EQ(GunzipLimited(flipped, kMiB, &out), DecompressResult::kCorrupt);
  std::string body = compressed;
  body[body.size() / 2] ^= 0xFF;
  EXPECT_EQ(GunzipLimited(body, kMiB, &out), DecompressResult::kCorrupt);
  // Trailing garbage after a complete member.
  EXPECT_EQ(GunzipLimited(compressed + "garbage!!", kMiB, &out), DecompressResult::kCorrupt);
  EXPECT_EQ(GunzipLimited("", kMiB, &out), DecompressResult::kCorrupt);
}

TEST(Gzip, ConcatenatedMembers) {
  std::string a = Sample(70000, 1), b = Sample(12345, 2), c = "tail";
  std::string compressed = GzipCompress(a) + GzipCompress(b) + GzipCompress(c);
  std::string out;
  EXPECT_EQ(GunzipLimited(compressed, kMiB, &out), DecompressResult::kOk);
  EXPECT_EQ(out, a + b + c);
  // The limit counts all members together.
  EXPECT_EQ(GunzipLimited(compressed, a.size() + b.size(), &out), DecompressResult::kTooLarge);
}

TEST(Gzip, AcceptsZlibToo) {
  // zlib header (78 9c) for "hello": produced by zlib.compress(b"hello").
  const unsigned char zlib_hello[] = {0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
                                      0x00, 0x06, 0x2c, 0x02, 0x15};
  std::string out;
  EXPECT_EQ(GunzipLimited(std::string(reinterpret_cast<const char*>(zlib_hello),
                                      sizeof zlib_hello),
                          kMiB, &out),
            DecompressResult::kOk);
  EXPECT_EQ(out, "hello");
}

TEST(Zstd, RoundTrip) {
  for (size_t n : {size_t(0), size_t(1), size_t(1000), size_t(600 * 1024)}) {
    std::string data = Sample(n, 7);
    std::string compressed = ZstdCompress(data);
    ASSERT_GE(compressed.size(), 4u);
    EXPECT_EQ(uint8_t(compressed[0]), 0x28);  // zstd magic 28 b5 2f fd
    EXPECT_EQ(uint8_t(compressed[3]), 0xfd);
    std::string out = "stale";
    EXPECT_EQ(ZstdDecompressLimited(compressed, 10 * kMiB, &out), DecompressResult::kOk) << n;
    EXPECT_EQ(out, data) << n;
  }
}

TEST(Zstd, LimitIsInclusive) {
  std::string data = Sample(300000, 3);
  std::string compressed = ZstdCompress(data);
  std::string out;
  EXPECT_EQ(ZstdDecompressLimited(compressed, data.size(), &out), DecompressResult::kOk);
  EXPECT_EQ(out, data);
  EXPECT_EQ(ZstdDecompressLimited(compressed, data.size() - 1, &out),
            DecompressResult::kTooLarge);
  EXPECT_LE(out.size(), data.size() - 1);
}

TEST(Zstd, BombStopsAtTheLimitWithoutAllocatingMore) {
  std::string compressed = ZstdCompress(std::string(100 * kMiB, '\0'));
  ASSERT_LT(compressed.size(), 200 * 1024u);
  std::string out;
  EXPECT_EQ(ZstdDecompressLimited(compressed, kMiB, &out), DecompressResult::kTooLarge);
  EXPECT_LE(out.size(), kMiB);
  EXPECT_LE(out.capacity(), kMiB + 256 * 1024);
}

TEST(Zstd, CorruptInput) {
  std::string out;
  EXPECT_EQ(ZstdDecompressLimited("definitely not zstd", kMiB, &out), DecompressResult::kCorrupt);
  std::string compressed = ZstdCompress(Sample(100000, 4));
  EXPECT_EQ(ZstdDecompressLimited(compressed.substr(0, compressed.size() / 2), kMiB, &out),
            DecompressResult::kCorrupt);
  EXPECT_EQ(ZstdDecompressLimited(compressed.substr(0, 6), kMiB, &out),
            DecompressResult::kCorrupt);
  EXPECT_EQ(ZstdDecompressLimited(compressed + "junk", kMiB, &out), DecompressResult::kCorrupt);
}

TEST(Zstd, ConcatenatedFrames) {
  std::string a = Sample(200000, 5), b = "second frame";
  std::string out;
  EXPECT_EQ(ZstdDecompressLimited(ZstdCompress(a) + ZstdCompress(b), kMiB, &out),
            DecompressResult::kOk);
  EXPECT_EQ(out, a + b);
}

}  // namespace
}  // namespace otelite
