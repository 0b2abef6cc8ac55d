//! Drawing plots as SVG with plotters, on the server: lines of metric histories and the
//! compare page's scatter. Log scales are drawn as log10 of the values with labels
//! written back as values, so every plot is one chart type.

use plotters::prelude::*;

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 480;
/// Pixels of the y-label area and margins; what is left is the plotting area's width,
/// which is also the number of buckets a long history is reduced to.
const Y_LABELS: u32 = 70;
const MARGIN: u32 = 15;
pub const PLOT_PIXELS: usize = (WIDTH - Y_LABELS - 2 * MARGIN) as usize;

/// Ten distinguishable colours (Tableau 10); series take them in turn.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

pub fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

pub fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// One series as drawn: the main line and, when smoothed, the raw line behind it.
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    pub faint: Vec<(f64, f64)>,
}

/// How the axes read.
pub struct Axes<'a> {
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub x_label: &'a dyn Fn(&f64) -> String,
    pub log_y: bool,
}

/// Where the plotting area ended up, in SVG pixels: `(left, right)`.
pub type PixelSpan = (f64, f64);

/// `lo..hi` of some values, widened a little (and made non-empty) so lines do not sit
/// on the frame.
pub fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
}

fn log_label(v: &f64) -> String {
    let value = 10f64.powf(*v);
    if (1e-3..1e4).contains(&value.abs()) {
        // Three significant digits: 0.0398, 0.631, 1.58.
        let decimals = (2 - value.abs().log10().floor() as i32).clamp(0, 6) as usize;
        let text = format!("{value:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    } else {
        format!("{value:.0e}")
    }
}

fn value_label(v: &f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Draws lines over `x_range`; y values are already log10 when `axes.log_y`.
pub fn lines(
    lines: &[Line],
    x_range: (f64, f64),
    axes: &Axes<'_>,
) -> Result<(String, PixelSpan), String> {
    let y_range = padded_range(
        lines
            .iter()
            .flat_map(|l| l.points.iter().chain(&l.faint).map(|p| p.1)),
    );
    let mut svg = String::new();
    let span;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(40)
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(|e| e.to_string())?;
        let y_label: &dyn Fn(&f64) -> String = if axes.log_y { &log_label } else { &value_label };
        chart
            .configure_mesh()
            .x_desc(axes.x_desc)
            .y_desc(axes.y_desc)
            .x_label_formatter(axes.x_label)
            .y_label_formatter(y_label)
            .light_line_style(RGBColor(235, 238, 243))
            .draw()
            .map_err(|e| e.to_string())?;
        for line in lines {
            if !line.faint.is_empty() {
                chart
                    .draw_series(LineSeries::new(
                        line.faint.iter().copied(),
                        line.color.mix(0.25).stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?;
            }
            let color = line.color;
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(line.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        if !lines.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        let (xs, _) = chart.plotting_area().get_pixel_range();
        span = (f64::from(xs.start), f64::from(xs.end));
        root.present().map_err(|e| e.to_string())?;
    }
    Ok((svg, span))
}

/// A scatter of `(x, y, label)` points: one param or metric against another.
pub fn scatter(
    points: &[(f64, f64, String)],
    x_desc: &str,
    y_desc: &str,
) -> Result<String, String> {
    // Wider margins than lines get, so points and their names stay inside the frame.
    let widen = |(lo, hi): (f64, f64)| (lo - (hi - lo) * 0.1, hi + (hi - lo) * 0.15);
    let x_range = widen(padded_range(points.iter().map(|p| p.0)));
    let y_range = widen(padded_range(points.iter().map(|p| p.1)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(40)
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&value_label)
            .y_label_formatter(&value_label)
            .light_line_style(RGBColor(235, 238, 243))
            .draw()
            .map_err(|e| e.to_string())?;
        // Each point carries its run's name beside it: a legend box could hide points.
        for (i, (x, y, label)) in points.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((*x, *y))
                        + Circle::new((0, 0), 5, c.filled())
                        + Text::new(label.clone(), (8, -6), ("sans-serif", 13).into_font()),
                ))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_labels_show_three_significant_digits_without_trailing_zeros() {
        let at = |v: f64| log_label(&v.log10());
        assert_eq!(at(0.001), "0.001");
        assert_eq!(at(0.631), "0.631");
        assert_eq!(at(1.5849), "1.58");
        assert_eq!(at(100.0), "100");
        assert_eq!(at(1e-6), "1e-6");
    }

    #[test]
    fn ranges_are_padded_and_never_empty() {
        assert_eq!(padded_range([].into_iter()), (0.0, 1.0));
        assert_eq!(padded_range([0.0].into_iter()), (-1.0, 1.0));
        let (lo, hi) = padded_range([1.0, 2.0, f64::NAN].into_iter());
        assert!(lo < 1.0 && hi > 2.0);
    }

    #[test]
    fn a_drawn_line_is_an_svg_with_its_label() {
        let line = Line {
            label: "run-a · loss".into(),
            color: color(0),
            points: vec![(0.0, 1.0), (1.0, 0.5), (2.0, 0.25)],
            faint: Vec::new(),
        };
        let axes = Axes {
            x_desc: "step",
            y_desc: "value",
            x_label: &|v| format!("{v}"),
            log_y: false,
        };
        let (svg, (left, right)) = lines(&[line], (0.0, 2.0), &axes).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("run-a · loss"));
        assert!(svg.contains(&css(color(0)).to_uppercase()) || svg.contains(&css(color(0))));
        assert!(left > 0.0 && right > left && right <= f64::from(WIDTH));
    }
}
