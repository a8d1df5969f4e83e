#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace otelite::config {

// Where a node was written: file, 1-based line and column.
struct Mark {
  std::shared_ptr<const std::string> file;
  int line = 0;
  int column = 0;
  std::string str() const;  // "file:line" (or "file" when the line is unknown)
};

// A YAML document as otelite keeps it: plain values that remember where they came from, so that
// every error can name the file, the line and the path. Built from yaml-cpp's tree.
class ConfNode {
 public:
  enum class Type { kNull, kScalar, kSequence, kMap };
  using MapEntry = std::pair<std::string, ConfNode>;

  ConfNode() = default;
  static ConfNode Scalar(std::string value, Mark mark, bool quoted = false);
  static ConfNode Map(Mark mark);
  static ConfNode Sequence(Mark mark);

  Type type() const { return type_; }
  bool IsNull() const { return type_ == Type::kNull; }
  bool IsScalar() const { return type_ == Type::kScalar; }
  bool IsMap() const { return type_ == Type::kMap; }
  bool IsSequence() const { return type_ == Type::kSequence; }
  const Mark& mark() const { return mark_; }
  void set_mark(Mark mark) { mark_ = std::move(mark); }
  // For a map's value: where its key was written (errors about the key point there).
  const Mark& key_mark() const { return key_mark_.file ? key_mark_ : mark_; }
  void set_key_mark(Mark mark) { key_mark_ = std::move(mark); }

  const std::string& scalar() const { return scalar_; }
  void set_scalar(std::string value) { scalar_ = std::move(value); }
  bool quoted() const { return quoted_; }
  const std::vector<ConfNode>& items() const { return items_; }
  std::vector<ConfNode>& items() { return items_; }
  const std::vector<MapEntry>& entries() const { return entries_; }
  std::vector<MapEntry>& entries() { return entries_; }

  // Map access; nullptr when absent or when this is not a map.
  const ConfNode* Find(std::string_view key) const;
  ConfNode* Find(std::string_view key);
  // Sets (replacing) a key of a map node.
  void Set(std::string key, ConfNode value);

  // A human description of the type, for errors: "a map", "a list", "a scalar", "null".
  std::string_view TypeName() const;

 private:
  Type type_ = Type::kNull;
  Mark mark_;
  Mark key_mark_;
  std::string scalar_;
  bool quoted_ = false;
  std::vector<ConfNode> items_;
  std::vector<MapEntry> entries_;
};

// One configuration error: where, which YAML path, what.
struct Error {
  Mark mark;
  std::string path;  // e.g. exporters.file/x.path
  std::string message;
  bool warning = false;
  std::string str() const;  // "file:line: path: message"
};

// Collects errors and warnings; validation goes on after an error so that all are reported.
class Errors {
 public:
  void Add(const Mark& mark, std::string path, std::string message);
  void Warn(const Mark& mark, std::string path, std::string message);
  bool HasErrors() const;
  const std::vector<Error>& all() const { return list_; }

 private:
  std::vector<Error> list_;
};

// Joins a parent path and a key: ("exporters", "file") -> "exporters.file".
std::string JoinPath(std::string_view parent, std::string_view key);

}  // namespace otelite::config
