#include <catch2/catch.hpp>

#include "gnnkit/core/error.hpp"

namespace {
int checked_sqrt_arg(int k) {
  GNNKIT_EXPECTS(k >= 0, "'k' must be >= 0, got {}", k);
  return k;
}
}  // namespace

TEST_CASE("GNNKIT_EXPECTS names the enclosing function, the argument and the value") {
  CHECK(checked_sqrt_arg(3) == 3);
  try {
    checked_sqrt_arg(-7);
    FAIL("expected a throw");
  } catch (const gnnkit::InvalidArgument& e) {
    CHECK(std::string(e.what()) == "checked_sqrt_arg: 'k' must be >= 0, got -7");
    CHECK(e.function() == "checked_sqrt_arg");
  }
}

TEST_CASE("GNNKIT_EXPECTS_AS throws the requested type") {
  auto f = [](int i) {
    GNNKIT_EXPECTS_AS(gnnkit::OutOfRange, "lookup", i < 4, "'id' must be < {}, got {}", 4, i);
  };
  CHECK_NOTHROW(f(3));
  CHECK_THROWS_AS(f(9), gnnkit::OutOfRange);
  CHECK_THROWS_WITH(f(9), "lookup: 'id' must be < 4, got 9");
}

TEST_CASE("error hierarchy is rooted at gnnkit::Error and std::runtime_error") {
  CHECK_THROWS_AS(throw gnnkit::ShapeMismatch("f", "x"), gnnkit::InvalidArgument);
  CHECK_THROWS_AS(throw gnnkit::DeviceMismatch("f", "x"), gnnkit::InvalidArgument);
  CHECK_THROWS_AS(throw gnnkit::FormatError("f", "x"), gnnkit::Error);
  CHECK_THROWS_AS(throw gnnkit::NotCompiled("f", "x"), std::runtime_error);
  CHECK_THROWS_AS(throw gnnkit::OutOfMemory("f", "x"), gnnkit::Error);
}

TEST_CASE("detail::format substitutes placeholders in order and keeps extra text") {
  using gnnkit::detail::format;
  CHECK(format("a {} b {} c", 1, "two") == "a 1 b two c");
  CHECK(format("no placeholders") == "no placeholders");
  CHECK(format("{} only one", 5, 6) == "5 only one");
  CHECK(format("{} and {}", 1) == "1 and {}");
}
