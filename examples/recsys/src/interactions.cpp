#include "src/interactions.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unordered_map>
#include <numeric>
#include <sstream>

#include "app/json.hpp"
#include "app/svg_plot.hpp"
#include "gnnkit/core/error.hpp"

namespace gnnkit::recsys {
namespace fs = std::filesystem;

bool UserItems::contains(std::int64_t user, std::int32_t item) const noexcept {
  const auto list = of(user);
  return std::binary_search(list.begin(), list.end(), item);
}

std::vector<std::int64_t> UserItems::item_counts() const {
  std::vector<std::int64_t> counts(std::size_t(num_items), 0);
  for (const std::int32_t i : items) ++counts[std::size_t(i)];
  return counts;
}

std::vector<std::int64_t> UserItems::active_users() const {
  std::vector<std::int64_t> out;
  for (std::int64_t u = 0; u < num_users; ++u)
    if (indptr[std::size_t(u) + 1] > indptr[std::size_t(u)]) out.push_back(u);
  return out;
}

UserItems user_items_from_pairs(std::int64_t num_users, std::int64_t num_items,
                                std::span<const std::int64_t> users,
                                std::span<const std::int32_t> items, std::int64_t* duplicates) {
  UserItems out;
  out.num_users = num_users;
  out.num_items = num_items;
  out.indptr.assign(std::size_t(num_users) + 1, 0);
  for (const std::int64_t u : users) ++out.indptr[std::size_t(u) + 1];
  std::partial_sum(out.indptr.begin(), out.indptr.end(), out.indptr.begin());
  out.items.resize(items.size());
  std::vector<std::int64_t> next(out.indptr.begin(), out.indptr.end() - 1);
  for (std::size_t e = 0; e < users.size(); ++e)
    out.items[std::size_t(next[std::size_t(users[e])]++)] = items[e];
  // Sort and deduplicate each user's list, compacting in place.
  std::int64_t write = 0, removed = 0;
  for (std::int64_t u = 0; u < num_users; ++u) {
    const auto b = out.items.begin() + out.indptr[std::size_t(u)];
    const auto e = out.items.begin() + out.indptr[std::size_t(u) + 1];
    std::sort(b, e);
    const auto last = std::unique(b, e);
    removed += e - last;
    out.indptr[std::size_t(u)] = write;
    for (auto it = b; it != last; ++it) out.items[std::size_t(write++)] = *it;
  }
  out.indptr[std::size_t(num_users)] = write;
  out.items.resize(std::size_t(write));
  if (duplicates) *duplicates = removed;
  return out;
}

namespace {

/// One file of the LightGCN format, parsed: pairs plus the line of each user's list.
struct ParsedFile {
  std::vector<std::int64_t> users;
  std::vector<std::int32_t> items;
  std::int64_t max_user = -1, max_item = -1;
  std::int64_t max_user_line = 0, max_item_line = 0, lines = 0;  // where the largest ids are
};

std::string read_whole(const fs::path& path, const char* fn) {
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec))
    throw IoError(fn, detail::format("cannot read '{}': it is not a file (a folder?)", path.string()));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fn, detail::format("cannot open '{}' for reading", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  // A read error lands on ss (the inserter's sink), not on in: both are checked. (An empty
  // file also sets ss's failbit: it is read as empty.)
  if (in.bad() || (ss.fail() && in.tellg() != 0 && fs::file_size(path, ec) != 0))
    throw IoError(fn, detail::format("error while reading '{}'", path.string()));
  return ss.str();
}

/// Parses a non-negative integer token at [b, e); "" on success, else what is wrong.
std::string parse_id(const char* b, const char* e, std::int64_t limit, std::int64_t& out) {
  const auto [p, ec] = std::from_chars(b, e, out);
  const std::string token(b, std::size_t(e - b));
  if (ec == std::errc::result_out_of_range) return "'" + token + "' is too large";
  if (ec != std::errc() || p != e) return "'" + token + "' is not an integer";
  if (out < 0) return "'" + token + "' is negative";
  if (limit >= 0 && out >= limit)
    return limit == std::numeric_limits<std::int32_t>::max()
               ? detail::format("{} is too large (ids must be below 2^31 - 1)", token)
               : detail::format("{} is beyond the declared range [0, {})", token, limit);
  return "";
}

ParsedFile parse_lightgcn(const fs::path& path, std::int64_t num_users, std::int64_t num_items) {
  constexpr const char* fn = "read_lightgcn_folder";
  const std::string text = read_whole(path, fn);
  ParsedFile out;
  std::unordered_map<std::int64_t, std::int64_t> line_of_user;  // not a vector indexed by any id
  std::int64_t line_no = 0;
  std::size_t pos = 0;
  const std::int64_t item_limit = num_items >= 0 ? num_items : std::numeric_limits<std::int32_t>::max();
  const std::int64_t user_limit = num_users >= 0 ? num_users : std::numeric_limits<std::int32_t>::max();
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    const char* p = text.data() + pos;
    const char* const stop = text.data() + end;
    pos = end + 1;
    bool first = true;
    std::int64_t user = -1;
    while (true) {
      while (p < stop && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
      if (p == stop) break;
      const char* q = p;
      while (q < stop && *q != ' ' && *q != '\t' && *q != '\r') ++q;
      std::int64_t id = 0;
      const std::string err = parse_id(p, q, first ? user_limit : item_limit, id);
      if (!err.empty())
        throw FormatError(fn, detail::format("{}: line {}: {} {}", path.string(), line_no,
                                          first ? "user id" : "item id", err));
      if (first) {
        user = id;
        const auto [it, inserted] = line_of_user.emplace(user, line_no);
        if (!inserted)
          throw FormatError(fn, detail::format("{}: line {}: user {} already has a list on line {}",
                                            path.string(), line_no, user, it->second));
        if (user > out.max_user) out.max_user = user, out.max_user_line = line_no;
        ++out.lines;
        first = false;
      } else {
        out.users.push_back(user);
        out.items.push_back(std::int32_t(id));
        if (id > out.max_item) out.max_item = id, out.max_item_line = line_no;
      }
      p = q;
    }
  }
  return out;
}

/// Reads {"num_users": U, "num_items": I} (a flat JSON object; other keys are ignored).
void read_meta(const fs::path& path, std::int64_t& num_users, std::int64_t& num_items) {
  constexpr const char* fn = "read_lightgcn_folder";
  std::string text = read_whole(path, fn);
  std::replace(text.begin(), text.end(), '\n', ' ');
  app::JsonObject meta;
  if (const std::string err = app::parse_flat_json(text, meta); !err.empty())
    throw FormatError(fn, detail::format("{}: {}", path.string(), err));
  auto field = [&](const char* key) {
    const app::JsonValue* v = meta.find(key);
    if (!v) throw FormatError(fn, detail::format("{}: field '{}' is missing", path.string(), key));
    if (v->kind != app::JsonValue::Kind::kNumber || v->number < 1 || v->number >= 2147483647.0 ||
        v->number != std::floor(v->number))
      throw FormatError(fn, detail::format("{}: field '{}' must be a positive integer below 2^31, "
                                           "got {}", path.string(), key, v->json()));
    return std::int64_t(v->number);
  };
  num_users = field("num_users");
  num_items = field("num_items");
}

std::string lightgcn_text(const UserItems& x) {
  std::string out;
  out.reserve(std::size_t(x.num_interactions()) * 7 + std::size_t(x.num_users) * 8);
  char buf[24];
  for (std::int64_t u = 0; u < x.num_users; ++u) {
    const auto list = x.of(u);
    if (list.empty()) continue;
    out.append(buf, std::size_t(std::to_chars(buf, buf + sizeof buf, u).ptr - buf));
    for (const std::int32_t i : list) {
      out += ' ';
      out.append(buf, std::size_t(std::to_chars(buf, buf + sizeof buf, i).ptr - buf));
    }
    out += '\n';
  }
  return out;
}

}  // namespace

RecData read_lightgcn_folder(const std::string& folder, const std::string& name) {
  constexpr const char* fn = "read_lightgcn_folder";
  const fs::path dir(folder);
  if (!fs::is_directory(dir))
    throw IoError(fn, detail::format("'{}' is not a folder (expected train.txt and test.txt in it)",
                                  folder));
  std::int64_t num_users = -1, num_items = -1;
  if (fs::exists(dir / "meta.json")) read_meta(dir / "meta.json", num_users, num_items);
  ParsedFile train = parse_lightgcn(dir / "train.txt", num_users, num_items);
  ParsedFile test = parse_lightgcn(dir / "test.txt", num_users, num_items);
  if (num_users < 0 || num_items < 0) {
    // Without meta.json the ranges come from the largest ids. Ids far beyond what the files
    // list (a typo, a hashed id) would size the model by them: gigabytes, then bad_alloc.
    const std::int64_t bound = 16 * (train.lines + test.lines + std::int64_t(train.users.size() + test.users.size())) + 1024;
    auto check = [&](const char* what, const char* file, std::int64_t max, std::int64_t line) {
      if (max >= bound)
        throw FormatError(fn, detail::format("{}: line {}: {} id {} is far beyond what the files list ({} lines, "
                                             "{} interactions): ids must run from 0, or meta.json must declare "
                                             "num_users and num_items", (dir / file).string(), line, what, max,
                                             train.lines + test.lines, train.users.size() + test.users.size()));
    };
    if (num_users < 0) {
      check("user", "train.txt", train.max_user, train.max_user_line);
      check("user", "test.txt", test.max_user, test.max_user_line);
      num_users = std::max(train.max_user, test.max_user) + 1;
    }
    if (num_items < 0) {
      check("item", "train.txt", train.max_item, train.max_item_line);
      check("item", "test.txt", test.max_item, test.max_item_line);
      num_items = std::max(train.max_item, test.max_item) + 1;
    }
  }
  if (train.users.empty())
    throw FormatError(fn, detail::format("{}: no interactions", (dir / "train.txt").string()));
  if (test.users.empty())  // checked now: found after training, it would cost every epoch
    throw FormatError(fn, detail::format("{}: no interactions (nothing to evaluate on)",
                                         (dir / "test.txt").string()));
  RecData data;
  data.name = name.empty() ? dir.filename().string() : name;
  data.source = folder;
  data.train = user_items_from_pairs(num_users, num_items, train.users, train.items);
  data.test = user_items_from_pairs(num_users, num_items, test.users, test.items);
  return data;
}

void write_lightgcn_folder(const std::string& folder, const RecData& data) {
  constexpr const char* fn = "write_lightgcn_folder";
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw IoError(fn, detail::format("cannot create folder '{}': {}", folder, ec.message()));
  const fs::path dir(folder);
  app::write_file_atomic((dir / "train.txt").string(), lightgcn_text(data.train), fn);
  app::write_file_atomic((dir / "test.txt").string(), lightgcn_text(data.test), fn);
  app::write_file_atomic((dir / "meta.json").string(),
                         "{\"num_users\": " + std::to_string(data.train.num_users) +
                             ", \"num_items\": " + std::to_string(data.train.num_items) + "}\n",
                         fn);
}

const std::vector<std::string>& known_datasets() {
  static const std::vector<std::string> names = {"movielens-1m-lcfn", "amazon-cds"};
  return names;
}

RecData load_dataset(const std::string& name, const std::string& data_root) {
  constexpr const char* fn = "load_dataset";
  const auto& names = known_datasets();
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw InvalidArgument(fn, detail::format("unknown dataset '{}'; available: {}", name, list));
  const fs::path dir = fs::path(data_root) / name;
  if (!fs::is_directory(dir))
    throw IoError(fn, detail::format("dataset '{}' not found: looked for the folder '{}' (set "
                                  "--data-root to the folder holding {})",
                                  name, dir.string(), list));
  return read_lightgcn_folder(dir.string(), name);
}

}  // namespace gnnkit::recsys
