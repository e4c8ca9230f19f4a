import Foundation
import LeptonImage

extension StudyAnalysis {
    /// Opacity of the Grad-CAM colours over the scan in the overlay `analyze --heatmap` writes and
    /// the HTML page shows (and the review page's slider starts at).
    public static let heatmapOpacity: Float = 0.45

    /// The pictures a viewer needs, at the scan's display resolution (the file's own size, reduced
    /// to at most ``ScanLoader/maxDisplaySide`` per side): the scan as decoded (a DICOM rendered
    /// with its window) in gray, and the Grad-CAM colour layer (jet) at the same size, so that
    /// the layer drawn over the scan at ``heatmapOpacity`` is the `--heatmap` overlay. Nil for a
    /// study without a scan. Both are PNGs without metadata: nothing of the file's header.
    public func displayImages() throws -> (width: Int, height: Int, scan: Data, heatmap: Data?)? {
        guard let display else { return nil }
        let base = display.channels == 1 ? display : display.grayscale()
        let scan = try PNGEncoder.encode(base)
        var layer: Data? = nil
        if let heat = heatmap {
            let map = try PlanarImage(width: heatmapSize, height: heatmapSize, channels: 1, pixels: heat)
            // The overlay at full opacity is the colour layer alone, resized and normalised as the overlay is.
            layer = try PNGEncoder.encode(try base.overlay(heatmap: map, colormap: .jet, alpha: 1))
        }
        return (base.width, base.height, scan, layer)
    }

    /// ``jsonLine()`` with what a viewer needs (what `POST /v1/analyze?images=1` answers): `images`
    /// when the study has a scan (`width`, `height`, `scan` and `heatmap` as PNG data URLs,
    /// `heatmap_opacity`), and `report_text` when it has a report (the scrubbed text).
    public func jsonLine(images: Bool) throws -> String {
        var o = jsonObject()
        if images, let pictures = try displayImages() {
            var i: [String: Any] = ["width": pictures.width, "height": pictures.height,
                                    "scan": "data:image/png;base64," + pictures.scan.base64EncodedString(),
                                    // 0.45, not the Float's 0.449999988 in JSON.
                                    "heatmap_opacity": (Double(StudyAnalysis.heatmapOpacity) * 100).rounded() / 100]
            if let h = pictures.heatmap { i["heatmap"] = "data:image/png;base64," + h.base64EncodedString() }
            o["images"] = i
        }
        // The whole report for a viewer to mark the evidence sentences in (scrubbed as they are).
        if images, let reportText { o["report_text"] = reportText }
        return StudyAnalysis.serialize(o, pretty: false)
    }
}
