#include "extensions/file_storage/log_tail.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

namespace otelite::extensions::file_storage {

namespace {

constexpr size_t kBlockSize = 32768;
constexpr size_t kHeaderSize = 7;
enum RecordType : uint8_t { kZero = 0, kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };

std::string Describe(size_t good_end, size_t size, const std::string& why) {
  return std::to_string(size - good_end) + " bytes after offset " + std::to_string(good_end) +
         " are not whole records (" + why + ")";
}

}  // namespace

std::string CheckLogFraming(const std::string& contents) {
  const size_t size = contents.size();
  const auto* data = reinterpret_cast<const uint8_t*>(contents.data());
  size_t pos = 0;
  size_t good_end = 0;  // end of the last whole logical record
  bool in_fragment = false;
  while (pos < size) {
    size_t left_in_block = kBlockSize - pos % kBlockSize;
    if (left_in_block < kHeaderSize) {
      // Block trailer: the writer pads it with zeros.
      size_t n = std::min(left_in_block, size - pos);
      for (size_t i = 0; i < n; ++i) {
        if (data[pos + i] != 0) return Describe(good_end, size, "non-zero block trailer");
      }
      pos += n;
      if (!in_fragment) good_end = pos;
      continue;
    }
    if (size - pos < kHeaderSize) return Describe(good_end, size, "truncated record header");
    size_t length = size_t(data[pos + 4]) | (size_t(data[pos + 5]) << 8);
    uint8_t type = data[pos + 6];
    if (type == kZero && length == 0) return Describe(good_end, size, "zero bytes");
    if (kHeaderSize + length > left_in_block) {
      return Describe(good_end, size, "record length past its block");
    }
    if (pos + kHeaderSize + length > size) return Describe(good_end, size, "truncated record");
    switch (type) {
      case kFull:
        if (in_fragment) return Describe(good_end, size, "record inside a fragmented record");
        break;
      case kFirst:
        if (in_fragment) return Describe(good_end, size, "record inside a fragmented record");
        in_fragment = true;
        break;
      case kMiddle:
        if (!in_fragment) return Describe(good_end, size, "fragment without a start");
        break;
      case kLast:
        if (!in_fragment) return Describe(good_end, size, "fragment without a start");
        in_fragment = false;
        break;
      default:
        return Describe(good_end, size, "unknown record type " + std::to_string(type));
    }
    pos += kHeaderSize + length;
    if (!in_fragment) good_end = pos;
  }
  if (in_fragment) return Describe(good_end, size, "the last record is incomplete");
  return {};
}

std::vector<std::string> CheckLogTails(const std::string& db_dir) {
  std::vector<std::string> problems;
  std::error_code ec;
  static const std::regex kLogName("[0-9]+\\.log");
  for (const auto& entry : std::filesystem::directory_iterator(db_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!std::regex_match(name, kLogName) || !entry.is_regular_file(ec)) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      problems.push_back(name + ": cannot be read");
      continue;
    }
    if (std::string why = CheckLogFraming(contents); !why.empty()) {
      problems.push_back(name + ": " + why);
    }
  }
  return problems;
}

}  // namespace otelite::extensions::file_storage
