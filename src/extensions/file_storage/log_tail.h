#pragma once
// Finds the damage LevelDB's own recovery drops without a word: a write-ahead log that does not
// end on a whole record (the writer died mid-record, or garbage follows the last record).
//
// LevelDB's log format (doc/log_format.md in LevelDB): 32 KiB blocks of physical records, each a
// 7-byte header (masked crc32c: 4 bytes, length: 2 bytes little-endian, type: 1 byte) and its
// payload; fewer than 7 bytes left in a block are zero padding. Types: 1 full, 2 first, 3 middle,
// 4 last. Only the framing is walked here: checksums stay LevelDB's job (it reports a mismatch
// through its info log), and LevelDB's reader does the actual recovery.
#include <cstdint>
#include <string>
#include <vector>

namespace otelite::extensions::file_storage {

// What is wrong with the framing of one log's contents; empty when it ends on a whole record.
std::string CheckLogFraming(const std::string& contents);

// Checks every write-ahead log (NNNNNN.log) of the LevelDB database in `db_dir`; one line per
// damaged log, naming it. A missing directory has no logs.
std::vector<std::string> CheckLogTails(const std::string& db_dir);

}  // namespace otelite::extensions::file_storage
