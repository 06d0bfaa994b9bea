// Checkpoints: round trips (parameters, Adam state, metadata; training continues identically),
// every documented failure, and atomic replacement of an existing file.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "gnnkit/train/checkpoint.hpp"
#include "support/temp_dir.hpp"
#include "support/views.hpp"

using namespace gnnkit;
using Catch::Matchers::Contains;

namespace {

const Context ctx = Context::cpu(2);

ParameterList make_model(std::uint64_t seed, std::int64_t hidden = 8) {
  ParameterList params;
  params.add("conv1.weight", {5, hidden}, Init::kGlorotUniform, seed);
  params.add("conv1.bias", {hidden}, Init::kNormal, seed);
  params.add("head.weight", {hidden, 2}, Init::kGlorotUniform, seed, DType::kFloat64);
  return params;
}

/// Deterministic gradients that depend on the current values.
void fake_backward(const ParameterList& params) {
  for (const auto& p : params)
    for (std::int64_t i = 0; i < p->numel(); ++i) {
      if (p->value.dtype() == DType::kFloat32)
        p->grad.data_as<float>()[i] = std::sin(p->value.data_as<float>()[i] * 5 + float(i));
      else
        p->grad.data_as<double>()[i] = std::cos(p->value.data_as<double>()[i] * 3 + double(i));
    }
}

std::vector<char> bytes_of(const ParameterList& params) {
  std::vector<char> out;
  for (const auto& p : params) {
    const char* d = static_cast<const char*>(p->value.data());
    out.insert(out.end(), d, d + p->value.nbytes());
  }
  return out;
}

void write_all(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::size_t files_in(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("checkpoint round trip: parameters, Adam state and metadata", "[train][checkpoint]") {
  test::TempDir dir;
  const std::string path = dir.path("model.ckpt");
  ParameterList model = make_model(1);
  Adam opt(model, {.lr = 0.01, .weight_decay = 0.001});
  for (int s = 0; s < 4; ++s) {
    fake_backward(model);
    opt.step(ctx);
  }
  opt.set_learning_rate(0.004);
  const std::map<std::string, std::string> meta = {
      {"epoch", "4"}, {"config", "hidden=8\nlr=0.01"}, {"empty", ""}};
  save_checkpoint(path, model, &opt, meta);
  REQUIRE(files_in(dir.root()) == 1);  // no temporary left behind

  ParameterList restored = make_model(2);  // other weights, same names and shapes
  REQUIRE(bytes_of(restored) != bytes_of(model));
  Adam opt2(restored);
  REQUIRE(load_checkpoint(path, restored, &opt2) == meta);
  REQUIRE(bytes_of(restored) == bytes_of(model));
  REQUIRE(opt2.step_count() == 4);
  REQUIRE(opt2.learning_rate() == 0.004);
  // Training continues bit-identically from the restored state.
  for (int s = 0; s < 3; ++s) {
    fake_backward(model);
    fake_backward(restored);
    opt.step(ctx);
    opt2.step(ctx);
  }
  REQUIRE(bytes_of(restored) == bytes_of(model));

  SECTION("weights only, ignoring the stored optimizer state") {
    ParameterList weights = make_model(3);
    REQUIRE(load_checkpoint(path, weights).at("epoch") == "4");
  }
  SECTION("an optimizer of another kind is refused") {
    ParameterList other = make_model(3);
    Sgd sgd(other);
    const auto before = bytes_of(other);
    REQUIRE_THROWS_WITH(load_checkpoint(path, other, &sgd),
                        Contains("holds Adam state, not Sgd state"));
    REQUIRE(bytes_of(other) == before);
  }
  SECTION("saving without an optimizer, then asking for one") {
    const std::string plain = dir.path("plain.ckpt");
    save_checkpoint(plain, model);
    ParameterList other = make_model(3);
    REQUIRE(load_checkpoint(plain, other).empty());
    REQUIRE(bytes_of(other) == bytes_of(model));
    Adam fresh(other);
    REQUIRE_THROWS_WITH(load_checkpoint(plain, other, &fresh),
                        Contains("holds no optimizer state"));
  }
  SECTION("overwriting an existing checkpoint") {
    ParameterList other = make_model(7);
    save_checkpoint(path, other, nullptr, {{"epoch", "9"}});
    ParameterList check = make_model(3);
    REQUIRE(load_checkpoint(path, check).at("epoch") == "9");
    REQUIRE(bytes_of(check) == bytes_of(other));
    REQUIRE(files_in(dir.root()) == 1);
  }
}

TEST_CASE("loading into another model names the offending parameter", "[train][checkpoint]") {
  test::TempDir dir;
  const std::string path = dir.path("m.ckpt");
  ParameterList model = make_model(1);
  save_checkpoint(path, model);

  ParameterList wider = make_model(2, 16);
  const auto before = bytes_of(wider);
  REQUIRE_THROWS_MATCHES(
      load_checkpoint(path, wider), ShapeMismatch,
      Catch::Matchers::Message("load_checkpoint: parameter 'conv1.weight' has shape [5, 16] in "
                               "the model but [5, 8] in checkpoint '" +
                               path + "'"));
  REQUIRE(bytes_of(wider) == before);  // nothing loaded

  ParameterList extra = make_model(2);
  extra.add("head.bias", {2}, Init::kZeros, 0);
  REQUIRE_THROWS_MATCHES(load_checkpoint(path, extra), InvalidArgument,
                         Catch::Matchers::Message("load_checkpoint: parameter 'head.bias' of the "
                                                  "model is missing from checkpoint '" +
                                                  path + "'"));
  ParameterList fewer;
  fewer.add("conv1.weight", {5, 8}, Init::kZeros, 0);
  REQUIRE_THROWS_WITH(load_checkpoint(path, fewer),
                      Contains("holds parameter 'conv1.bias', which the model does not have"));
  ParameterList retyped;
  retyped.add("conv1.weight", {5, 8}, Init::kZeros, 0, DType::kFloat64);
  REQUIRE_THROWS_WITH(load_checkpoint(path, retyped),
                      Contains("parameter 'conv1.weight' is float64 in the model but float32"));
}

TEST_CASE("corrupt and truncated checkpoints raise FormatError naming the file",
          "[train][checkpoint]") {
  test::TempDir dir;
  const std::string path = dir.path("m.ckpt");
  ParameterList model = make_model(1);
  Adam opt(model);
  fake_backward(model);
  opt.step(ctx);
  save_checkpoint(path, model, &opt, {{"k", "v"}});
  const auto good = test::read_all(path);
  ParameterList target = make_model(2);
  const auto before = bytes_of(target);

  SECTION("a flipped byte anywhere fails the checksum") {
    for (std::size_t at : {std::size_t(100), good.size() / 2, good.size() - 20}) {
      auto bad = good;
      bad[at] ^= 0x10;
      write_all(path, bad);
      INFO("byte " << at);
      REQUIRE_THROWS_MATCHES(load_checkpoint(path, target), FormatError,
                             Catch::Matchers::Message("load_checkpoint: '" + path +
                                                      "': checksum mismatch (the file is "
                                                      "corrupted)"));
    }
  }
  SECTION("truncation") {
    write_all(path, std::vector<char>(good.begin(), good.end() - 100));
    REQUIRE_THROWS_WITH(load_checkpoint(path, target),
                        Contains("'" + path + "': truncated or extended: the header says " +
                                 std::to_string(good.size()) + " bytes, the file has " +
                                 std::to_string(good.size() - 100)));
    write_all(path, std::vector<char>(good.begin(), good.begin() + 30));
    REQUIRE_THROWS_WITH(load_checkpoint(path, target), Contains("truncated: 30 bytes"));
    write_all(path, {});
    REQUIRE_THROWS_AS(load_checkpoint(path, target), FormatError);
  }
  SECTION("bad magic and future versions") {
    auto bad = good;
    bad[0] = 'X';
    write_all(path, bad);
    REQUIRE_THROWS_WITH(load_checkpoint(path, target), Contains("not a gnnkit checkpoint"));
    bad = good;
    bad[8] = 7;  // version 7
    write_all(path, bad);
    REQUIRE_THROWS_WITH(load_checkpoint(path, target),
                        Contains("format version 7 is newer than this gnnkit reads (1)"));
  }
  SECTION("a missing file is an IoError with the OS reason") {
    REQUIRE_THROWS_MATCHES(
        load_checkpoint(dir.path("absent.ckpt"), target), IoError,
        Catch::Matchers::Message("load_checkpoint: cannot open '" + dir.path("absent.ckpt") +
                                 "': No such file or directory"));
  }
  REQUIRE(bytes_of(target) == before);
}

TEST_CASE("saving into a missing or unwritable place is an IoError", "[train][checkpoint]") {
  test::TempDir dir;
  ParameterList model = make_model(1);
  const std::string missing = dir.path("no/such/dir/m.ckpt");
  REQUIRE_THROWS_AS(save_checkpoint(missing, model), IoError);
  REQUIRE_THROWS_WITH(save_checkpoint(missing, model),
                      Contains("save_checkpoint: cannot create '" + missing) &&
                          Contains("No such file or directory"));
  // A regular file where a directory is expected.
  write_all(dir.path("plain"), {'x'});
  REQUIRE_THROWS_WITH(save_checkpoint(dir.path("plain/m.ckpt"), model),
                      Contains("Not a directory"));
  // A directory without write permission (root ignores permissions: skip that part as root).
  if (::geteuid() != 0) {
    const std::string ro = dir.path("ro");
    std::filesystem::create_directory(ro);
    std::filesystem::permissions(
        ro, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    REQUIRE_THROWS_WITH(save_checkpoint(ro + "/m.ckpt", model), Contains("Permission denied"));
    std::filesystem::permissions(ro, std::filesystem::perms::owner_all);
  }
}

TEST_CASE("a save that fails midway leaves the previous checkpoint intact", "[train][checkpoint]") {
  test::TempDir dir;
  const std::string path = dir.path("m.ckpt");
  ParameterList small = make_model(1);
  save_checkpoint(path, small, nullptr, {{"epoch", "1"}});
  const auto good = test::read_all(path);

  // A 4 MB model written under a 64 KiB file-size limit: write() fails with EFBIG after the
  // temporary file has been created and partly written (SIGXFSZ ignored so the process
  // survives to see the error).
  ParameterList big;
  big.add("conv1.weight", {1024, 1024}, Init::kGlorotUniform, 1);
  struct sigaction ignore {
  }, old_action{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGXFSZ, &ignore, &old_action);
  rlimit old_limit{};
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit limit = old_limit;
  limit.rlim_cur = 64 * 1024;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  std::string message;
  try {
    save_checkpoint(path, big, nullptr, {{"epoch", "2"}});
  } catch (const IoError& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::sigaction(SIGXFSZ, &old_action, nullptr);
  INFO(message);
  REQUIRE_THAT(message, Contains("save_checkpoint: writing '" + path + ".tmp-") &&
                            Contains("File too large"));
  REQUIRE(test::read_all(path) == good);
  REQUIRE(files_in(dir.root()) == 1);  // the temporary was removed
  ParameterList check = make_model(5);
  REQUIRE(load_checkpoint(path, check).at("epoch") == "1");
  REQUIRE(bytes_of(check) == bytes_of(small));
}

TEST_CASE("many small tensors adding up to more than the write buffer round-trip",
          "[train][checkpoint]") {
  // 400 parameters of 4 KB each: the buffered writer flushes several times between records
  // (a model of many small layers, e.g. one conv per relation and layer).
  test::TempDir dir;
  ParameterList params;
  for (int i = 0; i < 400; ++i)
    params.add("p" + std::to_string(i), {32, 32}, Init::kGlorotUniform, std::uint64_t(i));
  save_checkpoint(dir.path("many.ckpt"), params);
  ParameterList other;
  for (int i = 0; i < 400; ++i) other.add("p" + std::to_string(i), {32, 32}, Init::kZeros, 0);
  load_checkpoint(dir.path("many.ckpt"), other);
  for (int i = 0; i < 400; ++i)
    REQUIRE(std::memcmp(params[std::size_t(i)]->value.data(), other[std::size_t(i)]->value.data(),
                        params[std::size_t(i)]->value.nbytes()) == 0);
}
