#include "config/conf_node.h"

#include <algorithm>

namespace otelite::config {

std::string Mark::str() const {
  std::string out = file ? *file : std::string("<config>");
  if (line > 0) out += ":" + std::to_string(line);
  return out;
}

ConfNode ConfNode::Scalar(std::string value, Mark mark, bool quoted) {
  ConfNode n;
  n.type_ = Type::kScalar;
  n.scalar_ = std::move(value);
  n.mark_ = std::move(mark);
  n.quoted_ = quoted;
  return n;
}

ConfNode ConfNode::Map(Mark mark) {
  ConfNode n;
  n.type_ = Type::kMap;
  n.mark_ = std::move(mark);
  return n;
}

ConfNode ConfNode::Sequence(Mark mark) {
  ConfNode n;
  n.type_ = Type::kSequence;
  n.mark_ = std::move(mark);
  return n;
}

const ConfNode* ConfNode::Find(std::string_view key) const {
  if (type_ != Type::kMap) return nullptr;
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

ConfNode* ConfNode::Find(std::string_view key) {
  return const_cast<ConfNode*>(static_cast<const ConfNode*>(this)->Find(key));
}

void ConfNode::Set(std::string key, ConfNode value) {
  if (ConfNode* existing = Find(key)) {
    *existing = std::move(value);
    return;
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

std::string_view ConfNode::TypeName() const {
  switch (type_) {
    case Type::kNull: return "null";
    case Type::kScalar: return "a scalar";
    case Type::kSequence: return "a list";
    case Type::kMap: return "a map";
  }
  return "?";
}

std::string Error::str() const {
  std::string out = mark.str() + ": ";
  if (!path.empty()) out += path + ": ";
  if (warning) out += "warning: ";
  return out + message;
}

void Errors::Add(const Mark& mark, std::string path, std::string message) {
  list_.push_back({mark, std::move(path), std::move(message), false});
}

void Errors::Warn(const Mark& mark, std::string path, std::string message) {
  list_.push_back({mark, std::move(path), std::move(message), true});
}

bool Errors::HasErrors() const {
  return std::any_of(list_.begin(), list_.end(), [](const Error& e) { return !e.warning; });
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

}  // namespace otelite::config
