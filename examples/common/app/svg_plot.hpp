#pragma once
/// @file
/// A tiny, dependency-free SVG chart writer for the example apps' reports (gnnkit-fraud,
/// gnnkit-recsys): line charts with several named series and overlaid class histograms.
/// Output is a standalone SVG 1.1 document (well-formed XML, no scripts, no external resources) that browsers, Markdown
/// viewers and image tools open directly, and that can be inlined into HTML as it is.
///
/// Defaults aim at readable figures without tuning: 640x440 px, 12-17 px sans-serif text,
/// light grid lines at "nice" ticks (1, 2, 5 x 10^k), the colour-blind-safe Okabe-Ito palette,
/// and polylines thinned to what half a pixel can show (a 1M-point ROC curve stays small).

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gnnkit::app {

/// @brief Okabe & Ito's colour-blind-safe palette (blue, vermillion, bluish green, reddish
/// purple, orange, sky blue, black); series without a colour take the next one.
inline constexpr std::array<const char*, 7> kPalette = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                        "#E69F00", "#56B4E9", "#000000"};
/// @brief Grey for reference lines (chance diagonal, baselines).
inline constexpr const char* kReferenceGrey = "#888888";

/// @brief Where a chart's legend goes (inside the plot area).
enum class LegendPosition { kTopRight, kTopLeft, kBottomRight, kBottomLeft, kNone };

/// @brief One line of a LineChart. Points with a non-finite coordinate break the line.
struct Series {
  std::string name;       ///< legend entry; empty = not in the legend
  std::vector<double> x;  ///< same length as y
  std::vector<double> y;
  std::string colour;    ///< CSS colour; empty = next palette colour
  bool dashed = false;   ///< dashed stroke (reference lines)
  double width = 2.0;    ///< stroke width in px
  bool markers = false;  ///< also draw a dot at every point (short series, e.g. epochs)
};

/// @brief A line chart: axes with ticks and grid, axis labels, title, legend.
struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
  /// Axis ranges; unset = the data's range widened to nice tick values.
  std::optional<std::pair<double, double>> x_range, y_range;
  bool integer_x = false;  ///< x ticks at whole numbers only (epochs, rounds)
  LegendPosition legend = LegendPosition::kBottomRight;
  int width = 640;
  int height = 440;
  /// Prefix of the element ids in the document (clip paths); charts inlined in one HTML
  /// page need distinct ids. Letters, digits, '-' and '_' are kept, the rest replaced.
  std::string id = "chart";
};

/// @brief One class of a Histogram.
struct HistogramClass {
  std::string name;            ///< legend entry
  std::vector<double> values;  ///< samples; non-finite ones are ignored
  std::string colour;          ///< empty = next palette colour
};

/// @brief Overlaid histograms of several classes as normalised densities (each class's bars
/// integrate to 1, so a rare class stays visible next to a common one), drawn as
/// semi-transparent filled steps with a solid outline.
struct Histogram {
  std::string title;
  std::string x_label;
  std::string y_label = "density";
  std::vector<HistogramClass> classes;
  int bins = 40;  ///< >= 1
  /// Binned range; unset = [min, max] of all values. Values outside fall in the edge bins.
  std::optional<std::pair<double, double>> range;
  LegendPosition legend = LegendPosition::kTopRight;
  int width = 640;
  int height = 440;
  std::string id = "hist";  ///< element id prefix, see LineChart::id
};

/// @brief A standalone SVG document of the chart.
/// @throws gnnkit::InvalidArgument for a series whose x and y differ in length, a bad range
///         (min >= max or not finite) or a non-positive size
std::string render_svg(const LineChart& chart);

/// @brief A standalone SVG document of the histogram.
/// @throws gnnkit::InvalidArgument for bins < 1, a bad range or a non-positive size
std::string render_svg(const Histogram& histogram);

/// @brief Several line charts side by side in one SVG document (e.g. loss | PR-AUC).
/// @throws gnnkit::InvalidArgument as render_svg, or for an empty list
std::string render_svg_row(const std::vector<LineChart>& charts);

/// @brief Escapes text for XML/HTML content and attribute values (& < > " ').
std::string xml_escape(std::string_view text);

/// @brief Writes `content` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over `path`. A failure never leaves a partial file at
/// `path` nor destroys an existing one.
/// @param caller function name the error message starts with
/// @throws gnnkit::IoError naming the path and the OS error
void write_file_atomic(const std::string& path, std::string_view content,
                       const char* caller = "write_file_atomic");

}  // namespace gnnkit::app
