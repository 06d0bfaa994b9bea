#pragma once
/// @file
/// Schema of a heterogeneous graph: node types with counts and relations
/// (EdgeType{src, rel, dst}, printed "src__rel__dst").

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "gnnkit/core/error.hpp"

namespace gnnkit {

/// @brief A relation: edges go from nodes of type `src` to nodes of type `dst`.
struct EdgeType {
  std::string src, rel, dst;
  /// @brief "src__rel__dst", the canonical printed form.
  std::string str() const { return src + "__" + rel + "__" + dst; }
  friend bool operator==(const EdgeType&, const EdgeType&) = default;
};

inline std::ostream& operator<<(std::ostream& out, const EdgeType& t) { return out << t.str(); }

/// @brief Node types (with counts) and relations. Names are non-empty and made of letters,
/// digits and "_-.:" so that they print, parse and serialise unambiguously.
class Schema {
 public:
  /// @brief Adds a node type. @throws InvalidArgument for a bad or repeated name, count < 0
  int add_node_type(std::string name, std::int64_t count) {
    check_name("node type", name);
    GNNKIT_EXPECTS_AS(InvalidArgument, "Schema::add_node_type", !find_node_type(name),
                      "node type '{}' is already defined", name);
    GNNKIT_EXPECTS_AS(InvalidArgument, "Schema::add_node_type", count >= 0,
                      "'num_nodes' of '{}' must be >= 0, got {}", name, count);
    node_types_.push_back(std::move(name));
    num_nodes_.push_back(count);
    return int(node_types_.size()) - 1;
  }

  /// @brief Adds a relation between existing node types.
  /// @throws InvalidArgument for unknown node types, a bad name or a repeated relation
  int add_relation(EdgeType type) {
    check_name("relation", type.rel);
    node_type_id(type.src);
    node_type_id(type.dst);
    GNNKIT_EXPECTS_AS(InvalidArgument, "Schema::add_relation", !find_relation(type),
                      "relation '{}' is already defined", type.str());
    relations_.push_back(std::move(type));
    return int(relations_.size()) - 1;
  }

  int num_node_types() const noexcept { return int(node_types_.size()); }
  int num_relations() const noexcept { return int(relations_.size()); }
  const std::vector<std::string>& node_types() const noexcept { return node_types_; }
  const std::vector<EdgeType>& relations() const noexcept { return relations_; }
  const std::string& node_type(int id) const { return node_types_.at(std::size_t(id)); }
  const EdgeType& relation(int id) const { return relations_.at(std::size_t(id)); }
  std::int64_t num_nodes(int type_id) const { return num_nodes_.at(std::size_t(type_id)); }
  std::int64_t num_nodes(std::string_view type) const { return num_nodes(node_type_id(type)); }

  std::optional<int> find_node_type(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < node_types_.size(); ++i)
      if (node_types_[i] == name) return int(i);
    return std::nullopt;
  }
  /// @throws InvalidArgument naming the unknown type and the known ones (and, when given, the
  /// caller's function and argument)
  int node_type_id(std::string_view name, const char* function = "Schema", const char* arg = nullptr) const {
    if (auto id = find_node_type(name)) return *id;
    throw InvalidArgument(function, detail::format("{}unknown node type '{}' (known: {})", argument(arg),
                                                   name, join(node_types_)));
  }

  std::optional<int> find_relation(const EdgeType& type) const noexcept {
    for (std::size_t i = 0; i < relations_.size(); ++i)
      if (relations_[i] == type) return int(i);
    return std::nullopt;
  }
  /// @brief Looks a relation up by "src__rel__dst" or, when unambiguous, by "rel" alone.
  /// @throws InvalidArgument for unknown or ambiguous names
  int relation_id(std::string_view name, const char* function = "Schema", const char* arg = nullptr) const {
    std::optional<int> found;
    for (std::size_t i = 0; i < relations_.size(); ++i) {
      if (relations_[i].str() == name) return int(i);
      if (relations_[i].rel == name) {
        GNNKIT_EXPECTS_AS(InvalidArgument, function, !found,
                          "{}relation name '{}' is ambiguous; use src__rel__dst", argument(arg), name);
        found = int(i);
      }
    }
    if (found) return *found;
    std::vector<std::string> names;
    for (const auto& r : relations_) names.push_back(r.str());
    throw InvalidArgument(function, detail::format("{}unknown relation '{}' (known: {})", argument(arg),
                                                   name, join(names)));
  }
  int relation_id(const EdgeType& type) const {
    if (auto id = find_relation(type)) return *id;
    return relation_id(type.str());  // throws with the list of known relations
  }

 private:
  /// "'arg': " when an argument is named, else nothing.
  static std::string argument(const char* arg) { return arg ? detail::format("'{}': ", arg) : std::string(); }
  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "none" : out;
  }
  static void check_name(const char* what, const std::string& name) {
    bool ok = !name.empty() && name.size() <= 64 && name.find("__") == std::string::npos;
    for (char c : name)
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == ':');
    GNNKIT_EXPECTS_AS(InvalidArgument, "Schema", ok,
                      "{} name must be 1-64 characters of [A-Za-z0-9_-.:] without '__', got '{}'",
                      what, name);
  }

  std::vector<std::string> node_types_;
  std::vector<std::int64_t> num_nodes_;
  std::vector<EdgeType> relations_;
};

}  // namespace gnnkit
