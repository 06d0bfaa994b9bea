// Evaluation report of gnnkit-fraud (see report.hpp).
#include "src/report.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <span>
#include <sstream>
#include <system_error>

#include <gnnkit/core/error.hpp>
#include <gnnkit/train/metrics.hpp>

#include "app/svg_plot.hpp"

namespace gnnkit::fraud {
using namespace gnnkit::app;  // the shared chart writer and atomic writes
namespace {

constexpr const char* kFn = "write_report";

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

std::string json_array(const std::vector<double>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + json_number(v[i]);
  return out + "]";
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string percent(double v) { return fixed(100 * v, v < 0.1 ? 2 : 1) + "%"; }

/// Lower-cased [a-z0-9_-] of a model name, unique among `taken`.
std::string file_slug(const std::string& name, std::set<std::string>& taken) {
  std::string s;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    s += std::isalnum(u) ? char(std::tolower(u)) : (c == '-' ? '-' : '_');
  }
  // Readable names: no runs of '_' and none at the ends ("GNN (sage)" -> "gnn_sage").
  std::string squeezed;
  for (char c : s)
    if (c != '_' || (!squeezed.empty() && squeezed.back() != '_')) squeezed += c;
  while (!squeezed.empty() && squeezed.back() == '_') squeezed.pop_back();
  s = squeezed.empty() ? "model" : squeezed;
  std::string unique = s;
  for (int i = 2; taken.count(unique); ++i) unique = s + "_" + std::to_string(i);
  taken.insert(unique);
  return unique;
}

void validate(const ModelScores& m) {
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, !m.name.empty(), "every model must have a name, got ''");
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, !m.scores.empty(),
                    "model '{}': 'scores' must not be empty, got 0 entries", m.name);
  GNNKIT_EXPECTS_AS(ShapeMismatch, kFn, m.labels.size() == m.scores.size(),
                    "model '{}': 'labels' must have {} entries (one per score), got {}", m.name,
                    m.scores.size(), m.labels.size());
  std::int64_t pos = 0;
  for (std::size_t i = 0; i < m.scores.size(); ++i) {
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, !std::isnan(m.scores[i]),
                      "model '{}': 'scores[{}]' must not be NaN, got {}", m.name, i, m.scores[i]);
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, m.labels[i] == 0 || m.labels[i] == 1,
                      "model '{}': 'labels[{}]' must be 0 or 1, got {}", m.name, i, m.labels[i]);
    pos += m.labels[i];
  }
  const std::int64_t neg = std::int64_t(m.labels.size()) - pos;
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, pos > 0 && neg > 0,
                    "model '{}': 'labels' must contain both classes, got {} positives and {} "
                    "negatives",
                    m.name, pos, neg);
}

/// Which models are best (maximal) in a column: all that tie for the maximum.
std::vector<bool> best_of(const std::vector<ModelMetrics>& ms, double ModelMetrics::*field) {
  double top = -1;
  for (const auto& m : ms) top = std::max(top, m.*field);
  std::vector<bool> out;
  for (const auto& m : ms) out.push_back(m.*field == top);
  return out;
}

struct Column {
  const char* header;
  const char* json_key;
  double ModelMetrics::*field;
};
const Column kColumns[] = {
    {"ROC-AUC", "roc_auc", &ModelMetrics::roc_auc},
    {"PR-AUC", "pr_auc", &ModelMetrics::pr_auc},
    {"Recall @ 1% FPR", "recall_at_1pct_fpr", &ModelMetrics::recall_at_1pct_fpr},
    {"Precision @ top 0.5%", "precision_at_top_0.5pct", &ModelMetrics::precision_at_top_0_5pct},
};

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|' || c == '*' || c == '_' || c == '`' || c == '[' || c == ']' || c == '<' ||
        c == '>' || c == '#')
      out += '\\';
    out += c;
  }
  return out;
}

constexpr const char* kHowGroups =
    "How to read: the share of each fraud pattern caught at the 1% false-positive budget of the "
    "table above (the same threshold for every pattern). It shows which kinds of fraud each "
    "model sees; a pattern that only a graph model catches lives in the relationships.";
constexpr const char* kHowMetrics =
    "ROC-AUC: probability that a random fraud case scores above a random legitimate one. "
    "PR-AUC (average precision): the area under the precision-recall curve, the headline "
    "number when fraud is rare. Recall @ 1% FPR: share of fraud caught when at most 1% of "
    "legitimate cases are flagged. Precision @ top 0.5%: share of fraud among the 0.5% "
    "highest-scored cases (an analyst's review queue). Higher is better everywhere; the best "
    "value of each column is marked.";
constexpr const char* kHowRoc =
    "How to read: each curve shows the share of fraud caught (true-positive rate) against the "
    "share of legitimate cases wrongly flagged (false-positive rate) as the alert threshold is "
    "lowered. Up and to the left is better; the dashed diagonal is random guessing and the "
    "light dashed vertical line is the 1% false-positive budget of the table.";
constexpr const char* kHowPr =
    "How to read: precision (share of alerts that are fraud) against recall (share of fraud "
    "caught) as the threshold is lowered. Up and to the right is better; the dashed line is "
    "the precision of random alerts (the fraud rate). With rare fraud this view separates "
    "models that the ROC curve shows as nearly equal.";
constexpr const char* kHowTraining =
    "How to read: left, the training and validation loss per epoch (both should fall; a "
    "validation loss rising while the training loss falls means over-fitting). Right, the "
    "validation PR-AUC per epoch; the marked point is the epoch whose model was kept (early "
    "stopping).";
constexpr const char* kHowHist =
    "How to read: the score distributions of legitimate and fraudulent test cases, each "
    "scaled to area 1 so the rare class stays visible. The less the two overlap the better; "
    "ideally fraud piles up near 1 and legitimate cases near 0.";

}  // namespace

ModelMetrics compute_metrics(const ModelScores& model) {
  validate(model);
  const std::span<const float> s(model.scores);
  const std::span<const std::int64_t> y(model.labels);
  ModelMetrics m;
  m.name = model.name;
  m.roc_auc = roc_auc(s, y);
  m.pr_auc = average_precision(s, y);
  m.recall_at_1pct_fpr = recall_at_fpr(s, y, kReportMaxFpr);
  m.precision_at_top_0_5pct = precision_at_top_fraction(s, y, kReportTopFraction);
  m.count = std::int64_t(model.labels.size());
  for (std::int64_t l : model.labels) m.positives += l;
  m.negatives = m.count - m.positives;
  return m;
}

namespace {
/// Recall at kReportMaxFpr of each group's positives: the threshold depends on the negatives
/// only, so each group's recall is recall_at_fpr over the negatives and that group.
std::vector<std::vector<double>> group_recalls(const ReportInput& in) {
  std::vector<std::vector<double>> out;
  if (in.group_names.empty()) return out;
  for (const ModelScores& m : in.models) {
    GNNKIT_EXPECTS_AS(ShapeMismatch, kFn, in.positive_groups.size() == m.labels.size(),
                      "'positive_groups' must have one entry per test case of model '{}' ({}), got {}",
                      m.name, m.labels.size(), in.positive_groups.size());
    std::vector<double> row;
    for (int g = 0; g < int(in.group_names.size()); ++g) {
      std::vector<float> s;
      std::vector<std::int64_t> y;
      std::int64_t positives = 0;
      for (std::size_t i = 0; i < m.labels.size(); ++i) {
        const int group = in.positive_groups[i];
        GNNKIT_EXPECTS_AS(InvalidArgument, kFn, (group < 0) == (m.labels[i] == 0) && group < int(in.group_names.size()),
                          "'positive_groups[{}]' must be -1 for a negative and a group index below {} "
                          "for a positive, got {} (label {})", i, in.group_names.size(), group, m.labels[i]);
        if (group == g || group < 0) {
          s.push_back(m.scores[i]);
          y.push_back(m.labels[i]);
          positives += m.labels[i];
        }
      }
      const bool defined = positives > 0 && positives < std::int64_t(y.size());
      row.push_back(defined ? recall_at_fpr(std::span<const float>(s), std::span<const std::int64_t>(y), kReportMaxFpr)
                            : std::numeric_limits<double>::quiet_NaN());
    }
    out.push_back(std::move(row));
  }
  return out;
}
}  // namespace

ReportOutput write_report(const std::string& out_dir, const ReportInput& in) {
  namespace fs = std::filesystem;
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, !in.models.empty(),
                    "'models' must hold at least one model, got none");
  ReportOutput out;
  out.group_recall = group_recalls(in);
  for (const auto& m : in.models) out.metrics.push_back(compute_metrics(m));
  const auto& h = in.history;
  const std::size_t epochs =
      std::max({h.train_loss.size(), h.val_loss.size(), h.val_pr_auc.size()});

  // The folder: create it (and parents), and say which path failed and why.
  {
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec || !fs::is_directory(out_dir))
      throw IoError(kFn, detail::format("cannot create the report folder '{}': {}", out_dir,
                                        ec ? ec.message() : "a file of that name exists"));
  }
  auto write = [&](const std::string& name, const std::string& content) {
    const std::string path = (fs::path(out_dir) / name).string();
    write_file_atomic(path, content, kFn);
    out.files.push_back(path);
  };

  // ---- metrics.json
  {
    std::ostringstream j;
    j << "{\n  \"title\": " << json_string(in.title)
      << ",\n  \"dataset\": " << json_string(in.dataset)
      << ",\n  \"split\": " << json_string(in.split_note)
      << ",\n  \"operating_points\": {\"max_fpr\": " << json_number(kReportMaxFpr)
      << ", \"top_fraction\": " << json_number(kReportTopFraction) << "},\n  \"models\": [\n";
    for (std::size_t i = 0; i < out.metrics.size(); ++i) {
      const auto& m = out.metrics[i];
      j << "    {\"name\": " << json_string(m.name);
      for (const auto& c : kColumns) j << ", \"" << c.json_key << "\": " << json_number(m.*c.field);
      j << ", \"count\": " << m.count << ", \"positives\": " << m.positives
        << ", \"negatives\": " << m.negatives
        << ", \"positive_rate\": " << json_number(double(m.positives) / double(m.count));
      if (!out.group_recall.empty()) {
        j << ", \"recall_at_1pct_fpr_by_group\": {";
        for (std::size_t g = 0; g < in.group_names.size(); ++g)
          j << (g ? ", " : "") << json_string(in.group_names[g]) << ": " << json_number(out.group_recall[i][g]);
        j << "}";
      }
      j << "}"
        << (i + 1 < out.metrics.size() ? "," : "") << "\n";
    }
    j << "  ],\n  \"best\": {";
    for (std::size_t c = 0; c < std::size(kColumns); ++c) {
      const auto best = best_of(out.metrics, kColumns[c].field);
      const auto it = std::find(best.begin(), best.end(), true);
      j << (c ? ", " : "") << "\"" << kColumns[c].json_key
        << "\": " << json_string(out.metrics[std::size_t(it - best.begin())].name);
    }
    j << "},\n  \"training\": {\"epochs\": " << epochs
      << ", \"best_epoch\": " << (h.best_epoch >= 0 ? std::to_string(h.best_epoch + 1) : "null")
      << ", \"train_loss\": " << json_array(h.train_loss)
      << ", \"val_loss\": " << json_array(h.val_loss)
      << ", \"val_pr_auc\": " << json_array(h.val_pr_auc) << "},\n  \"extra\": {";
    for (std::size_t i = 0; i < in.extra.size(); ++i)
      j << (i ? ", " : "") << json_string(in.extra[i].first) << ": "
        << json_string(in.extra[i].second);
    j << "}\n}\n";
    write("metrics.json", j.str());
  }

  // ---- charts (kept as strings: report.html inlines them)
  LineChart roc;
  roc.title = "ROC curve (test set)";
  roc.x_label = "false-positive rate (" + in.negative_name + " flagged)";
  roc.y_label = "true-positive rate (" + in.positive_name + " caught)";
  roc.x_range = {0, 1};
  roc.y_range = {0, 1};
  roc.legend = LegendPosition::kBottomRight;
  roc.id = "roc";
  LineChart pr;
  pr.title = "Precision-recall curve (test set)";
  pr.x_label = "recall (share of " + in.positive_name + " caught)";
  pr.y_label = "precision (share of alerts that are " + in.positive_name + ")";
  pr.x_range = {0, 1};
  pr.y_range = {0, 1.02};
  pr.legend = LegendPosition::kTopRight;
  pr.id = "pr";
  for (std::size_t i = 0; i < in.models.size(); ++i) {
    const auto& model = in.models[i];
    const auto& m = out.metrics[i];
    const std::span<const float> s(model.scores);
    const std::span<const std::int64_t> y(model.labels);
    const RocCurve rc = roc_curve(s, y);
    roc.series.push_back({m.name + " (AUC " + fixed(m.roc_auc, 3) + ")", rc.fpr, rc.tpr, ""});
    const PrCurve pc = pr_curve(s, y);
    pr.series.push_back({m.name + " (AP " + fixed(m.pr_auc, 3) + ")", pc.recall, pc.precision, ""});
  }
  const double prevalence = double(out.metrics[0].positives) / double(out.metrics[0].count);
  roc.series.push_back({"random", {0, 1}, {0, 1}, kReferenceGrey, true, 1.5});
  roc.series.push_back({"1% FPR", {kReportMaxFpr, kReportMaxFpr}, {0, 1}, "#bbbbbb", true, 1.2});
  pr.series.push_back({"random (" + in.positive_name + " rate " + percent(prevalence) + ")",
                       {0, 1},
                       {prevalence, prevalence},
                       kReferenceGrey,
                       true,
                       1.5});
  const std::string roc_svg = render_svg(roc), pr_svg = render_svg(pr);
  write("roc.svg", roc_svg);
  write("pr.svg", pr_svg);

  std::string training_svg;
  if (epochs > 0) {
    auto epoch_axis = [](std::size_t n) {
      std::vector<double> x(n);
      for (std::size_t e = 0; e < n; ++e) x[e] = double(e + 1);
      return x;
    };
    LineChart loss;
    loss.title = "Loss per epoch";
    loss.x_label = "epoch";
    loss.y_label = "loss";
    loss.integer_x = true;
    loss.legend = LegendPosition::kTopRight;
    loss.id = "training-loss";
    loss.width = 560;
    const bool dots = epochs <= 60;
    if (!h.train_loss.empty())
      loss.series.push_back({"training", epoch_axis(h.train_loss.size()), h.train_loss, kPalette[0],
                             false, 2.0, dots});
    if (!h.val_loss.empty())
      loss.series.push_back(
          {"validation", epoch_axis(h.val_loss.size()), h.val_loss, kPalette[1], false, 2.0, dots});
    LineChart ap;
    ap.title = "Validation PR-AUC per epoch";
    ap.x_label = "epoch";
    ap.y_label = "PR-AUC (average precision)";
    ap.integer_x = true;
    ap.legend = LegendPosition::kBottomRight;
    ap.id = "training-prauc";
    ap.width = 560;
    if (!h.val_pr_auc.empty()) {
      ap.series.push_back({"validation PR-AUC", epoch_axis(h.val_pr_auc.size()), h.val_pr_auc,
                           kPalette[2], false, 2.0, dots});
      if (h.best_epoch >= 0 && std::size_t(h.best_epoch) < h.val_pr_auc.size())
        ap.series.push_back({"kept model (epoch " + std::to_string(h.best_epoch + 1) + ")",
                             {double(h.best_epoch + 1)},
                             {h.val_pr_auc[std::size_t(h.best_epoch)]},
                             kPalette[1],
                             false,
                             2.0,
                             true});
    }
    // Give the x axes the same epoch range so the two panels line up.
    loss.x_range = ap.x_range = std::pair<double, double>(1, std::max<double>(2, double(epochs)));
    training_svg = render_svg_row({loss, ap});
    write("training.svg", training_svg);
  }

  std::set<std::string> taken;
  std::vector<std::pair<std::string, std::string>> hists;  // file name, svg
  for (std::size_t i = 0; i < in.models.size(); ++i) {
    const auto& model = in.models[i];
    const auto& m = out.metrics[i];
    Histogram hist;
    hist.title = "Test scores of " + m.name;
    hist.x_label = "score";
    hist.bins = 50;
    const auto [lo, hi] = std::minmax_element(model.scores.begin(), model.scores.end());
    if (*lo >= 0 && *hi <= 1) hist.range = {0, 1};
    HistogramClass neg{
        in.negative_name + " (n=" + std::to_string(m.negatives) + ")", {}, kPalette[0]};
    HistogramClass pos{
        in.positive_name + " (n=" + std::to_string(m.positives) + ")", {}, kPalette[1]};
    neg.values.reserve(std::size_t(m.negatives));
    pos.values.reserve(std::size_t(m.positives));
    for (std::size_t k = 0; k < model.scores.size(); ++k)
      (model.labels[k] ? pos : neg).values.push_back(model.scores[k]);
    hist.classes = {std::move(neg), std::move(pos)};
    const std::string slug = file_slug(m.name, taken);
    hist.id = "hist-" + slug;
    const std::string name = "hist_" + slug + ".svg";
    hists.emplace_back(name, render_svg(hist));
    write(name, hists.back().second);
  }

  // ---- report.md
  std::vector<std::vector<bool>> best;
  for (const auto& c : kColumns) best.push_back(best_of(out.metrics, c.field));
  {
    std::ostringstream md;
    md << "# " << md_escape(in.title) << "\n\n";
    if (!in.dataset.empty()) md << in.dataset << "\n\n";
    if (!in.split_note.empty()) md << "**Split:** " << in.split_note << "\n\n";
    md << "## Test metrics\n\n| Model |";
    for (const auto& c : kColumns) md << " " << c.header << " |";
    md << " Test cases | Positives (" << md_escape(in.positive_name) << ") |\n|---|";
    for (std::size_t c = 0; c < std::size(kColumns); ++c) md << "---:|";
    md << "---:|---:|\n";
    for (std::size_t i = 0; i < out.metrics.size(); ++i) {
      const auto& m = out.metrics[i];
      md << "| " << md_escape(m.name) << " |";
      for (std::size_t c = 0; c < std::size(kColumns); ++c) {
        const std::string v = fixed(m.*kColumns[c].field, 4);
        md << " " << (best[c][i] ? "**" + v + "** ★" : v) << " |";
      }
      md << " " << m.count << " | " << m.positives << " ("
         << percent(double(m.positives) / double(m.count)) << ") |\n";
    }
    md << "\n★ best in its column. " << kHowMetrics << "\n\n";
    if (!out.group_recall.empty()) {
      md << "## Recall @ 1% FPR by pattern\n\n| Model |";
      for (const auto& g : in.group_names) md << " " << md_escape(g) << " |";
      md << "\n|---|";
      for (std::size_t g = 0; g < in.group_names.size(); ++g) md << "---:|";
      md << "\n";
      for (std::size_t i = 0; i < out.metrics.size(); ++i) {
        md << "| " << md_escape(out.metrics[i].name) << " |";
        for (double r : out.group_recall[i]) md << " " << (std::isfinite(r) ? fixed(r, 3) : "-") << " |";
        md << "\n";
      }
      md << "\n" << kHowGroups << "\n\n";
    }
    md << "## ROC curve\n\n![ROC curves](roc.svg)\n\n" << kHowRoc << "\n\n";
    md << "## Precision-recall curve\n\n![Precision-recall curves](pr.svg)\n\n" << kHowPr << "\n\n";
    if (!training_svg.empty())
      md << "## Training\n\n![Training curves](training.svg)\n\n" << kHowTraining << "\n\n";
    md << "## Score distributions\n\n";
    for (std::size_t i = 0; i < hists.size(); ++i)
      md << "![Scores of " << md_escape(out.metrics[i].name) << "](" << hists[i].first << ")\n\n";
    md << kHowHist << "\n\n";
    if (!in.extra.empty()) {
      md << "## Run details\n\n| | |\n|---|---|\n";
      for (const auto& [k, v] : in.extra)
        md << "| " << md_escape(k) << " | " << md_escape(v) << " |\n";
      md << "\n";
    }
    md << "Raw numbers: [metrics.json](metrics.json).\n";
    write("report.md", md.str());
  }

  // ---- report.html (self-contained: the SVGs are inlined)
  {
    std::ostringstream html;
    html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
         << xml_escape(in.title) << "</title>\n<style>\n"
         << "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
            "max-width:1180px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\n"
         << "h1{font-size:1.7em;margin-bottom:.3em}h2{font-size:1.25em;margin-top:1.8em;"
            "border-bottom:1px solid #ddd;padding-bottom:.2em}\n"
         << "table{border-collapse:collapse;margin:.8em 0}th,td{padding:.35em .8em;"
            "border-bottom:1px solid #e5e5e5;text-align:right}th:first-child,td:first-child"
            "{text-align:left}th{background:#f5f5f5}\n"
         << "td.best{font-weight:700;background:#e6f2ea}\n"
         << ".how{color:#555;font-size:.93em;max-width:900px}\n"
         << ".plots{display:flex;flex-wrap:wrap;gap:12px}svg{max-width:100%;height:auto}\n"
         << "</style>\n</head>\n<body>\n<h1>" << xml_escape(in.title) << "</h1>\n";
    if (!in.dataset.empty()) html << "<p>" << xml_escape(in.dataset) << "</p>\n";
    if (!in.split_note.empty())
      html << "<p><strong>Split:</strong> " << xml_escape(in.split_note) << "</p>\n";
    html << "<h2>Test metrics</h2>\n<table>\n<tr><th>Model</th>";
    for (const auto& c : kColumns) html << "<th>" << xml_escape(c.header) << "</th>";
    html << "<th>Test cases</th><th>Positives (" << xml_escape(in.positive_name) << ")</th></tr>\n";
    for (std::size_t i = 0; i < out.metrics.size(); ++i) {
      const auto& m = out.metrics[i];
      html << "<tr><td>" << xml_escape(m.name) << "</td>";
      for (std::size_t c = 0; c < std::size(kColumns); ++c) {
        const std::string v = fixed(m.*kColumns[c].field, 4);
        html << (best[c][i] ? "<td class=\"best\">" + v + " ★</td>" : "<td>" + v + "</td>");
      }
      html << "<td>" << m.count << "</td><td>" << m.positives << " ("
           << percent(double(m.positives) / double(m.count)) << ")</td></tr>\n";
    }
    html << "</table>\n<p class=\"how\">★ best in its column. " << xml_escape(kHowMetrics)
         << "</p>\n";
    if (!out.group_recall.empty()) {
      html << "<h2>Recall @ 1% FPR by pattern</h2>\n<table>\n<tr><th>Model</th>";
      for (const auto& g : in.group_names) html << "<th>" << xml_escape(g) << "</th>";
      html << "</tr>\n";
      for (std::size_t i = 0; i < out.metrics.size(); ++i) {
        html << "<tr><td>" << xml_escape(out.metrics[i].name) << "</td>";
        for (double r : out.group_recall[i]) html << "<td>" << (std::isfinite(r) ? fixed(r, 3) : "-") << "</td>";
        html << "</tr>\n";
      }
      html << "</table>\n<p class=\"how\">" << xml_escape(kHowGroups) << "</p>\n";
    }
    html << "<h2>ROC and precision-recall curves</h2>\n<div class=\"plots\">\n"
         << roc_svg << pr_svg << "</div>\n<p class=\"how\">" << xml_escape(kHowRoc)
         << "</p>\n<p class=\"how\">" << xml_escape(kHowPr) << "</p>\n";
    if (!training_svg.empty())
      html << "<h2>Training</h2>\n"
           << training_svg << "<p class=\"how\">" << xml_escape(kHowTraining) << "</p>\n";
    html << "<h2>Score distributions</h2>\n<div class=\"plots\">\n";
    for (const auto& [name, svg] : hists) html << svg;
    html << "</div>\n<p class=\"how\">" << xml_escape(kHowHist) << "</p>\n";
    if (!in.extra.empty()) {
      html << "<h2>Run details</h2>\n<table>\n";
      for (const auto& [k, v] : in.extra)
        html << "<tr><td>" << xml_escape(k) << "</td><td style=\"text-align:left\">"
             << xml_escape(v) << "</td></tr>\n";
      html << "</table>\n";
    }
    html << "<p class=\"how\">Raw numbers: <a href=\"metrics.json\">metrics.json</a>; "
            "charts as files: <a href=\"roc.svg\">roc.svg</a>, <a href=\"pr.svg\">pr.svg</a>"
         << (training_svg.empty() ? "" : ", <a href=\"training.svg\">training.svg</a>");
    for (const auto& [name, svg] : hists)
      html << ", <a href=\"" << xml_escape(name) << "\">" << xml_escape(name) << "</a>";
    html << ".</p>\n</body>\n</html>\n";
    write("report.html", html.str());
  }
  return out;
}

}  // namespace gnnkit::fraud
