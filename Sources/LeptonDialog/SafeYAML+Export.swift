// SafeYAML moved to LeptonYAML (issue 23) so that lepton-risk's schema maps are read by the same
// hardened reader without depending on the dialog; chat code and its tests keep seeing it here.
@_exported import LeptonYAML
