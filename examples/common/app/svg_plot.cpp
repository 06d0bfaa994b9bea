// SVG chart writer of gnnkit-fraud (see svg_plot.hpp).
#include "app/svg_plot.hpp"

#include "app/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>

#include <gnnkit/core/error.hpp>

namespace gnnkit::app {
namespace {

constexpr const char* kFont =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
constexpr double kTitleSize = 17, kLabelSize = 14, kTickSize = 12, kLegendSize = 13;
constexpr double kMarginLeft = 72, kMarginRight = 24, kMarginTop = 48, kMarginBottom = 58;

/// Fixed-point number with up to `decimals` digits, trailing zeros removed ("0.25", "3").
std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}
/// Pixel coordinates: two decimals are far below what a screen shows.
std::string px(double v) { return fmt(v, 2); }

std::string sanitize_id(const std::string& id) {
  std::string out;
  for (char c : id)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "c" + out;
  return out;
}

/// "Nice" step (1, 2 or 5 x 10^k) giving about `target` intervals over span.
double nice_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/// Decimals needed to print multiples of step exactly (0.25 -> 2, 0.1 -> 1, 5 -> 0).
int decimals_for(double step) {
  for (int d = 0; d < 8; ++d) {
    const double scaled = step * std::pow(10.0, d);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * scaled) return d;
  }
  return 8;
}

struct Axis {
  double lo = 0, hi = 1;  // data range mapped to the plot
  std::vector<double> ticks;
  int decimals = 1;
};

/// Ticks inside [lo, hi]; when `widen`, lo/hi first snap outwards to multiples of the step.
Axis make_axis(double lo, double hi, bool widen, bool integer, int target) {
  if (!(hi > lo)) {  // flat data: a unit window around it
    const double c = std::isfinite(lo) ? lo : 0;
    lo = c - 0.5;
    hi = c + 0.5;
  }
  double step = nice_step(hi - lo, target);
  if (integer) step = std::max(1.0, std::round(step));
  Axis a;
  if (widen) {
    lo = std::floor(lo / step + 1e-9) * step;
    hi = std::ceil(hi / step - 1e-9) * step;
  }
  a.lo = lo;
  a.hi = hi;
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (int i = 0; i < 1000; ++i) {
    const double t = first + i * step;
    if (t > hi + 1e-9 * (hi - lo)) break;
    a.ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  }
  a.decimals = integer ? 0 : decimals_for(step);
  return a;
}

void check_range(const char* fn, const char* what,
                 const std::optional<std::pair<double, double>>& r) {
  if (!r) return;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    std::isfinite(r->first) && std::isfinite(r->second) && r->first < r->second,
                    "'{}' must be finite with min < max, got [{}, {}]", what, r->first, r->second);
}

/// The frame of one chart: plot rectangle, mapping, and the shared decorations.
struct Frame {
  double ox, oy, w, h;              // whole chart box
  double left, top, right, bottom;  // plot area
  Axis x, y;
  double sx(double v) const { return left + (v - x.lo) / (x.hi - x.lo) * (right - left); }
  double sy(double v) const { return bottom - (v - y.lo) / (y.hi - y.lo) * (bottom - top); }
};

Frame make_frame(double ox, double oy, double w, double h, Axis x, Axis y) {
  Frame f{ox,
          oy,
          w,
          h,
          ox + kMarginLeft,
          oy + kMarginTop,
          ox + w - kMarginRight,
          oy + h - kMarginBottom,
          std::move(x),
          std::move(y)};
  return f;
}

void text(std::ostringstream& o, double x, double y, double size, const std::string& s,
          const char* anchor, const char* extra = "") {
  o << "<text x=\"" << px(x) << "\" y=\"" << px(y) << "\" font-size=\"" << fmt(size, 1)
    << "\" text-anchor=\"" << anchor << "\"" << extra << ">" << xml_escape(s) << "</text>\n";
}

/// Background, grid, frame, ticks, axis labels and title; opens the clip path `clip`.
void draw_frame(std::ostringstream& o, const Frame& f, const std::string& title,
                const std::string& x_label, const std::string& y_label, const std::string& clip) {
  o << "<rect x=\"" << px(f.ox) << "\" y=\"" << px(f.oy) << "\" width=\"" << px(f.w)
    << "\" height=\"" << px(f.h) << "\" fill=\"#ffffff\"/>\n";
  o << "<clipPath id=\"" << clip << "\"><rect x=\"" << px(f.left) << "\" y=\"" << px(f.top)
    << "\" width=\"" << px(f.right - f.left) << "\" height=\"" << px(f.bottom - f.top)
    << "\"/></clipPath>\n";
  o << "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n";
  for (double t : f.x.ticks)
    o << "<line x1=\"" << px(f.sx(t)) << "\" y1=\"" << px(f.top) << "\" x2=\"" << px(f.sx(t))
      << "\" y2=\"" << px(f.bottom) << "\"/>\n";
  for (double t : f.y.ticks)
    o << "<line x1=\"" << px(f.left) << "\" y1=\"" << px(f.sy(t)) << "\" x2=\"" << px(f.right)
      << "\" y2=\"" << px(f.sy(t)) << "\"/>\n";
  o << "</g>\n";
  o << "<rect x=\"" << px(f.left) << "\" y=\"" << px(f.top) << "\" width=\"" << px(f.right - f.left)
    << "\" height=\"" << px(f.bottom - f.top)
    << "\" fill=\"none\" stroke=\"#444444\" stroke-width=\"1\"/>\n";
  o << "<g fill=\"#333333\">\n";
  for (double t : f.x.ticks) {
    o << "<line x1=\"" << px(f.sx(t)) << "\" y1=\"" << px(f.bottom) << "\" x2=\"" << px(f.sx(t))
      << "\" y2=\"" << px(f.bottom + 5) << "\" stroke=\"#444444\"/>\n";
    text(o, f.sx(t), f.bottom + 19, kTickSize, fmt(t, f.x.decimals), "middle");
  }
  for (double t : f.y.ticks) {
    o << "<line x1=\"" << px(f.left - 5) << "\" y1=\"" << px(f.sy(t)) << "\" x2=\"" << px(f.left)
      << "\" y2=\"" << px(f.sy(t)) << "\" stroke=\"#444444\"/>\n";
    text(o, f.left - 8, f.sy(t) + 4, kTickSize, fmt(t, f.y.decimals), "end");
  }
  text(o, (f.left + f.right) / 2, f.bottom + 44, kLabelSize, x_label, "middle");
  const double ly = (f.top + f.bottom) / 2, lx = f.ox + 20;
  o << "<text x=\"" << px(lx) << "\" y=\"" << px(ly) << "\" font-size=\"" << fmt(kLabelSize, 1)
    << "\" text-anchor=\"middle\" transform=\"rotate(-90 " << px(lx) << " " << px(ly) << ")\">"
    << xml_escape(y_label) << "</text>\n";
  text(o, (f.left + f.right) / 2, f.oy + 28, kTitleSize, title, "middle",
       " font-weight=\"600\" fill=\"#111111\"");
  o << "</g>\n";
}

struct LegendEntry {
  std::string name, colour;
  bool dashed = false;
  bool filled = false;  // a filled square (histograms) instead of a line sample
  bool dot = false;     // a ringed dot (a lone marked point) instead of a line sample
};

void draw_legend(std::ostringstream& o, const Frame& f, const std::vector<LegendEntry>& entries,
                 LegendPosition pos) {
  if (entries.empty() || pos == LegendPosition::kNone) return;
  std::size_t longest = 0;
  for (const auto& e : entries) longest = std::max(longest, e.name.size());
  const double row = 20, pad = 8, sample = 26;
  const double bw = pad * 2 + sample + 8 + double(longest) * kLegendSize * 0.56;
  const double bh = pad * 2 + row * double(entries.size()) - 4;
  const bool right = pos == LegendPosition::kTopRight || pos == LegendPosition::kBottomRight;
  const bool top = pos == LegendPosition::kTopRight || pos == LegendPosition::kTopLeft;
  const double x = right ? f.right - 10 - bw : f.left + 10;
  const double y = top ? f.top + 10 : f.bottom - 10 - bh;
  o << "<g>\n<rect x=\"" << px(x) << "\" y=\"" << px(y) << "\" width=\"" << px(bw) << "\" height=\""
    << px(bh) << "\" rx=\"4\" fill=\"#ffffff\" fill-opacity=\"0.88\" "
    << "stroke=\"#cccccc\"/>\n";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const double cy = y + pad + 8 + row * double(i);
    if (e.dot) {
      o << "<circle cx=\"" << px(x + pad + sample / 2) << "\" cy=\"" << px(cy)
        << "\" r=\"6\" fill=\"" << e.colour << "\" stroke=\"#ffffff\" stroke-width=\"2\"/>\n";
    } else if (e.filled) {
      o << "<rect x=\"" << px(x + pad) << "\" y=\"" << px(cy - 6) << "\" width=\"" << px(sample)
        << "\" height=\"12\" fill=\"" << e.colour << "\" fill-opacity=\"0.4\" stroke=\"" << e.colour
        << "\" stroke-width=\"1.5\"/>\n";
    } else {
      o << "<line x1=\"" << px(x + pad) << "\" y1=\"" << px(cy) << "\" x2=\""
        << px(x + pad + sample) << "\" y2=\"" << px(cy) << "\" stroke=\"" << e.colour
        << "\" stroke-width=\"2.5\"" << (e.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
    }
    text(o, x + pad + sample + 8, cy + 4.5, kLegendSize, e.name, "start", " fill=\"#222222\"");
  }
  o << "</g>\n";
}

std::string open_svg(double w, double h) {
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << px(w)
    << "\" height=\"" << px(h) << "\" viewBox=\"0 0 " << px(w) << " " << px(h)
    << "\" font-family=\"" << xml_escape(kFont) << "\">\n";
  return o.str();
}

void check_size(const char* fn, int w, int h) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, w >= 200 && h >= 150 && w <= 20000 && h <= 20000,
                    "'width' x 'height' must be within [200, 20000] x [150, 20000], got {} x {}", w,
                    h);
}

/// Draws one line chart into `o` at (ox, oy).
void draw_line_chart(std::ostringstream& o, const LineChart& c, double ox, double oy) {
  constexpr const char* fn = "render_svg";
  check_size(fn, c.width, c.height);
  check_range(fn, "x_range", c.x_range);
  check_range(fn, "y_range", c.y_range);
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : c.series) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, s.x.size() == s.y.size(),
                      "series '{}': 'x' and 'y' must have the same length, got {} and {}", s.name,
                      s.x.size(), s.y.size());
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
    }
  }
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;  // no data: an empty unit frame
  const double plot_w = c.width - kMarginLeft - kMarginRight;
  const double plot_h = c.height - kMarginTop - kMarginBottom;
  Axis ax = c.x_range ? make_axis(c.x_range->first, c.x_range->second, false, c.integer_x,
                                  int(plot_w / 80))
                      : make_axis(xlo, xhi, !c.integer_x, c.integer_x, int(plot_w / 80));
  if (!c.x_range && c.integer_x) {  // integer data: exact ends, no half-empty margins
    ax.lo = std::min(ax.lo, xlo);
    ax.hi = std::max(ax.hi, xhi);
  }
  const Axis ay =
      c.y_range ? make_axis(c.y_range->first, c.y_range->second, false, false, int(plot_h / 60))
                : make_axis(ylo, yhi, true, false, int(plot_h / 60));
  const Frame f = make_frame(ox, oy, c.width, c.height, ax, ay);
  const std::string clip = sanitize_id(c.id) + "-clip";
  draw_frame(o, f, c.title, c.x_label, c.y_label, clip);

  std::vector<LegendEntry> legend;
  std::ostringstream markers;  // drawn unclipped so that points on the frame stay whole
  std::size_t next_colour = 0;
  o << "<g clip-path=\"url(#" << clip << ")\" fill=\"none\" stroke-linejoin=\"round\" "
    << "stroke-linecap=\"round\">\n";
  for (const auto& s : c.series) {
    const std::string colour =
        s.colour.empty() ? kPalette[next_colour++ % kPalette.size()] : xml_escape(s.colour);
    if (!s.name.empty())
      legend.push_back({s.name, colour, s.dashed, false, s.markers && s.x.size() == 1});
    // Thin the polyline: drop points within half a pixel of the last kept one (always keep
    // the last point of a run), which no screen can tell apart.
    std::string points;
    double lx = 0, ly = 0;
    bool have = false;
    auto flush = [&] {
      if (!points.empty())
        o << "<polyline points=\"" << points << "\" stroke=\"" << colour << "\" stroke-width=\""
          << fmt(s.width, 2) << "\"" << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
      points.clear();
      have = false;
    };
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      const double X = f.sx(s.x[i]), Y = f.sy(s.y[i]);
      const bool last =
          i + 1 == s.x.size() || !std::isfinite(s.x[i + 1]) || !std::isfinite(s.y[i + 1]);
      if (have && !last && std::hypot(X - lx, Y - ly) < 0.5) continue;
      if (!points.empty()) points += ' ';
      points += px(X);
      points += ',';
      points += px(Y);
      lx = X;
      ly = Y;
      have = true;
    }
    flush();
    // A lone point (e.g. "the kept epoch") gets a bigger, ringed dot so it stands out.
    const bool lone = s.x.size() == 1;
    if (s.markers)
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        const double X = f.sx(s.x[i]), Y = f.sy(s.y[i]);
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && X >= f.left - 0.5 &&
            X <= f.right + 0.5 && Y >= f.top - 0.5 && Y <= f.bottom + 0.5)
          markers << "<circle cx=\"" << px(X) << "\" cy=\"" << px(Y) << "\" r=\""
                  << (lone ? "6" : "3") << "\" fill=\"" << colour << "\" stroke=\""
                  << (lone ? "#ffffff\" stroke-width=\"2" : "none") << "\"/>\n";
      }
  }
  o << "</g>\n" << markers.str();
  draw_legend(o, f, legend, c.legend);
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
          out += ' ';
        else
          out += ch;
    }
  }
  return out;
}

std::string render_svg(const LineChart& chart) {
  std::ostringstream o;
  o << open_svg(chart.width, chart.height);
  draw_line_chart(o, chart, 0, 0);
  o << "</svg>\n";
  return o.str();
}

std::string render_svg_row(const std::vector<LineChart>& charts) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "render_svg_row", !charts.empty(),
                    "'charts' must not be empty, got 0 charts");
  double w = 0, h = 0;
  for (const auto& c : charts) {
    w += c.width;
    h = std::max(h, double(c.height));
  }
  std::ostringstream o;
  o << open_svg(w, h);
  o << "<rect x=\"0\" y=\"0\" width=\"" << px(w) << "\" height=\"" << px(h)
    << "\" fill=\"#ffffff\"/>\n";
  double x = 0;
  for (const auto& c : charts) {
    draw_line_chart(o, c, x, 0);
    x += c.width;
  }
  o << "</svg>\n";
  return o.str();
}

std::string render_svg(const Histogram& hist) {
  constexpr const char* fn = "render_svg";
  check_size(fn, hist.width, hist.height);
  check_range(fn, "range", hist.range);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, hist.bins >= 1 && hist.bins <= 10000,
                    "'bins' must be in [1, 10000], got {}", hist.bins);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  if (hist.range) {
    lo = hist.range->first;
    hi = hist.range->second;
  } else {
    for (const auto& c : hist.classes)
      for (double v : c.values)
        if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (!(hi > lo)) lo -= 0.5, hi += 0.5;
  }
  const int bins = hist.bins;
  const double bw = (hi - lo) / bins;
  std::vector<std::vector<double>> density(hist.classes.size(),
                                           std::vector<double>(std::size_t(bins), 0));
  double ymax = 0;
  for (std::size_t k = 0; k < hist.classes.size(); ++k) {
    double n = 0;
    for (double v : hist.classes[k].values) {
      if (!std::isfinite(v)) continue;
      const int b = std::clamp(int(std::floor((v - lo) / bw)), 0, bins - 1);
      density[k][std::size_t(b)] += 1;
      n += 1;
    }
    for (double& d : density[k]) {
      d = n > 0 ? d / (n * bw) : 0;
      ymax = std::max(ymax, d);
    }
  }
  if (ymax <= 0) ymax = 1;
  const double plot_w = hist.width - kMarginLeft - kMarginRight;
  const double plot_h = hist.height - kMarginTop - kMarginBottom;
  const Axis ax = make_axis(lo, hi, !hist.range, false, int(plot_w / 80));
  Axis ay = make_axis(0, ymax * 1.05, true, false, int(plot_h / 60));
  const Frame f = make_frame(0, 0, hist.width, hist.height, ax, ay);
  const std::string clip = sanitize_id(hist.id) + "-clip";
  std::ostringstream o;
  o << open_svg(hist.width, hist.height);
  draw_frame(o, f, hist.title, hist.x_label, hist.y_label, clip);
  std::vector<LegendEntry> legend;
  o << "<g clip-path=\"url(#" << clip << ")\" stroke-linejoin=\"miter\">\n";
  for (std::size_t k = 0; k < hist.classes.size(); ++k) {
    const auto& c = hist.classes[k];
    const std::string colour =
        c.colour.empty() ? kPalette[k % kPalette.size()] : xml_escape(c.colour);
    legend.push_back({c.name, colour, false, true});
    // A closed step outline: baseline, up and across every bin, back down.
    std::string d = "M" + px(f.sx(lo)) + "," + px(f.sy(0));
    for (int b = 0; b < bins; ++b) {
      const double y = f.sy(density[k][std::size_t(b)]);
      d += " L" + px(f.sx(lo + b * bw)) + "," + px(y) + " L" + px(f.sx(lo + (b + 1) * bw)) + "," +
           px(y);
    }
    d += " L" + px(f.sx(hi)) + "," + px(f.sy(0)) + " Z";
    o << "<path d=\"" << d << "\" fill=\"" << colour << "\" fill-opacity=\"0.35\" stroke=\""
      << colour << "\" stroke-width=\"1.5\"/>\n";
  }
  o << "</g>\n";
  draw_legend(o, f, legend, hist.legend);
  o << "</svg>\n";
  return o.str();
}

void write_file_atomic(const std::string& path, std::string_view content, const char* caller) {
  OutputFile out(path, caller);
  out.write(content);
  out.commit();
}

}  // namespace gnnkit::app
