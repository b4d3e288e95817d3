// Where the vendored <model-viewer> finds the decoders a compressed GLB needs: the portal's own copies
// in static/vendor/model-viewer/ (draco/, basis/, meshopt/; see its README), never Google's CDN,
// which model-viewer uses by default and the portal's CSP blocks (a Draco-compressed model would not
// show). model-viewer reads `self.ModelViewerElement` each time it creates a <model-viewer>, so this
// plain script runs before the module is loaded (the 3D page, and the lightbox on any page). The
// locations are found from this file's own URL: both live under the same static root.
(function () {
  "use strict";

  var vendor = new URL("../vendor/model-viewer/", document.currentScript.src).href;
  self.ModelViewerElement = Object.assign(self.ModelViewerElement || {}, {
    dracoDecoderLocation: vendor + "draco/",
    ktx2TranscoderLocation: vendor + "basis/",
    meshoptDecoderLocation: vendor + "meshopt/meshopt_decoder.js",
  });
})();
