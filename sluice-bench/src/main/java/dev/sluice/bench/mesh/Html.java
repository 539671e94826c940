package dev.sluice.bench.mesh;

import java.util.List;
import java.util.Locale;

/** report.html: the table, the goals and two latency-distribution plots, self-contained (inline SVG, no script). */
final class Html {
    private static final String[] COLORS = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"};

    private Html() {
    }

    static String render(Results.Bench b) {
        StringBuilder h = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>sluice bench</title><style>"
                + "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
                + "text-align:right}td:first-child{text-align:left}.missed{color:#c00;font-weight:bold}.met{color:#070}</style></head><body>");
        h.append("<h1>sluice bench</h1><p>").append(esc(b.started())).append(" &middot; kernel ").append(esc(b.machine().kernel()))
                .append(" &middot; ").append(esc(b.machine().cpu())).append(", ").append(b.machine().cores()).append(" cores &middot; load ")
                .append(esc(b.machine().loadBefore())).append(" before, ").append(esc(b.machine().loadAfter())).append(" after</p>");
        h.append("<p>").append(esc(b.settings().toString())).append("</p>");
        h.append("<table><tr><th>scenario</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>uncorrected p99 ms</th>"
                + "<th>client CPU</th><th>server CPU</th><th>proxy CPU</th><th>agent CPU</th><th>machine CPU</th><th>softirq</th><th>eBPF</th>"
                + "<th>req/s</th><th>requests</th><th>errors</th><th>unsent</th><th>proxy MiB</th></tr>");
        for (Results.Summary x : b.summaries()) {
            h.append("<tr><td>").append(esc(x.title())).append(x.noisy() ? " (noisy)" : "").append("</td>");
            for (double v : new double[] {x.corrected().p50(), x.corrected().p90(), x.corrected().p99(), x.corrected().p999(), x.uncorrected().p99()}) {
                h.append(td("%.2f", v));
            }
            for (double v : new double[] {x.cpuPer1k().client(), x.cpuPer1k().servers(), x.cpuPer1k().proxy(), x.cpuPer1k().agent(),
                    x.cpuPer1k().machine(), x.cpuPer1k().softirq(), x.cpuPer1k().bpf()}) {
                h.append(td("%.3f", v));
            }
            h.append(td("%.0f", x.qps())).append("<td>").append(x.requests()).append("</td><td>").append(x.errors()).append("</td><td>")
                    .append(x.unsent()).append("</td>").append(td("%.0f", x.memory().proxyMiB())).append("</tr>");
        }
        h.append("</table><p>Latency: medians over repetitions, corrected for coordinated omission (from each request's intended send time)"
                + " unless marked uncorrected. CPU: vCPU per 1,000 requests/s.</p><h2>Goals</h2><ul>");
        for (Results.Goal g : b.goals()) {
            h.append("<li class=\"").append(g.met() ? "met" : "missed").append("\">").append(g.met() ? "met" : "MISSED").append(": ")
                    .append(esc(g.name())).append(": ").append(esc(g.figure())).append(" (").append(esc(g.detail())).append(")</li>");
        }
        h.append("</ul>");
        b.notes().forEach(n -> h.append("<p>note: ").append(esc(n)).append("</p>"));
        h.append("<h2>Latency distribution (corrected, first repetition of each scenario)</h2>").append(spectrum(b));
        h.append("<h2>Every run</h2><table><tr><th>scenario</th><th>rep</th><th>req/s</th><th>p50</th><th>p99</th><th>client</th>"
                + "<th>servers</th><th>proxy</th><th>errors</th></tr>");
        for (Results.Run r : b.runs()) {
            h.append("<tr><td>").append(esc(r.scenario())).append("</td><td>").append(r.rep()).append("</td>").append(td("%.0f", r.actualQps()))
                    .append(td("%.2f", r.corrected().p50())).append(td("%.2f", r.corrected().p99())).append(td("%.3f", r.cpu().client()))
                    .append(td("%.3f", r.cpu().servers())).append(td("%.3f", r.cpu().proxy())).append("<td>").append(r.errors()).append("</td></tr>");
        }
        return h.append("</table></body></html>\n").toString();
    }

    /**
     * Latency against percentile, the percentile axis stretched as HdrHistogram's plots do (x = log10(1 / (1 - p))),
     * so the tail, where the scenarios differ most, gets room: 0, 90, 99, 99.9 % are evenly spaced.
     */
    static String spectrum(Results.Bench b) {
        int w = 760;
        int hgt = 380;
        int left = 60;
        int bottom = 40;
        double maxX = 3; // 99.9 %
        double maxY = b.runs().stream().flatMap(r -> r.spectrum().stream()).filter(p -> p[0] <= 99.9).mapToDouble(p -> p[1]).max().orElse(1);
        maxY = Math.max(maxY, 0.001) * 1.05;
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">", w, hgt));
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>", left, hgt - bottom, w - 10, hgt - bottom));
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>", left, left, hgt - bottom));
        String[] ticks = {"0 %", "90 %", "99 %", "99.9 %"};
        for (int i = 0; i <= 3; i++) {
            double x = left + i / maxX * (w - 10 - left);
            s.append(String.format(Locale.ROOT, "<text x=\"%.0f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>", x, hgt - bottom + 15, ticks[i]));
        }
        for (int i = 0; i <= 4; i++) {
            double v = maxY * i / 4;
            double y = hgt - bottom - v / maxY * (hgt - bottom - 10);
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%.2f ms</text>", left - 4, y + 4, v));
        }
        int c = 0;
        List<String> done = new java.util.ArrayList<>();
        for (Results.Run r : b.runs()) {
            if (done.contains(r.scenario()) || r.spectrum().isEmpty()) {
                continue;
            }
            done.add(r.scenario());
            String color = COLORS[c++ % COLORS.length];
            StringBuilder pts = new StringBuilder();
            for (double[] p : r.spectrum()) {
                if (p[0] > 99.9) {
                    continue;
                }
                double x = left + Math.log10(1 / (1 - Math.min(p[0], 99.9) / 100)) / maxX * (w - 10 - left);
                double y = hgt - bottom - p[1] / maxY * (hgt - bottom - 10);
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
            }
            s.append("<polyline fill=\"none\" stroke=\"").append(color).append("\" stroke-width=\"2\" points=\"").append(pts).append("\"/>");
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\">%s</text>", left + 10, 20 + 15 * c, color,
                    esc(r.scenario())));
        }
        return s.append("</svg>").toString();
    }

    private static String td(String f, double v) {
        return "<td>" + (Double.isNaN(v) ? "-" : String.format(Locale.ROOT, f, v)) + "</td>";
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
