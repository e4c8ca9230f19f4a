/// The findings the report reader looks for, their surface forms, and the NegEx-style trigger
/// lists. Patterns are ICU regular expressions over the normalised sentence (lower case, tokens
/// of `[a-z0-9]` or `, ; : ?` joined by single spaces).
///
/// The lists were tuned on the even-numbered half of the IU X-ray reports (dev) and checked on
/// the odd half; see `ReportEvaluation` and the tests. Choices that matter, and why:
/// - "nodular opacity/density" is not a nodule: curators index it as Opacity or Density.
/// - "pericardial effusion" is not a pleural effusion; costophrenic blunting alone is not indexed.
/// - "borderline heart size/cardiomegaly" is indexed as Cardiomegaly, so it counts as present.
/// - a collapsed lung or lobe is atelectasis, and "fibronodular" (scarring) a nodule: curators index
///   them so in every train/validation report of `samples/diagnose/report-split.csv` that says so
///   (9 and 3 reports; chosen on those parts, 2026-12-07).
/// - "probable"/"likely" findings are indexed by curators, so they are not uncertainty cues.
public enum FindingLexicon {
    /// The five findings of the headline metric, then five more.
    public static let mainFindings = ["cardiomegaly", "effusion", "opacity", "atelectasis", "nodule"]
    public static let allFindings = mainFindings + ["granuloma", "edema", "emphysema", "pneumothorax", "pneumonia"]

    /// Finding → regular expressions (word-bounded when compiled).
    public static let patterns: [String: [String]] = [
        "cardiomegaly": [
            #"cardiomegaly"#,
            #"borderline (?:enlarged )?(?:heart|cardiac)(?: size| silhouette)?"#,
            #"(?:heart|cardiac|cardiomediastinal|cardiac silhouette|heart size)\b[^.]{0,30}?\b(?:is |are |appears |remains |)(?:\w+ly )?(?:enlarged|enlargement|large|prominent|increased)"#,
            #"(?:enlarged|enlargement of the|large|prominent) (?:\w+ )?(?:heart|cardiac)"#,
            #"cardiac enlargement"#,
        ],
        "effusion": [#"(?<!pericardial )effusions?"#, #"pleural fluid"#],
        "opacity": [#"opacit(?:y|ies)"#, #"opacification"#, #"air ?space (?:disease|opacit\w+|process|consolidation)"#,
                    #"infiltrates?"#, #"consolidat\w*"#],
        "atelectasis": [#"atelecta\w*"#, #"collaps\w* (?:of )?(?:the )?(?:[a-z]+ ){0,4}?(?:lung|lobes?)"#,
                        #"(?:lung|lobe) collaps\w*"#],
        "nodule": [#"nodules?"#, #"fibronodular"#],
        "granuloma": [#"granulom\w*"#],
        "edema": [#"edema"#, #"(?:vascular|venous) congestion"#, #"congestive"#, #"congestion"#],
        "emphysema": [#"emphysema\w*"#],
        "pneumothorax": [#"pneumothora\w*"#],
        "pneumonia": [#"pneumonia"#],
    ]

    /// Other abnormalities: not reported as findings, but a present one makes the report abnormal.
    public static let otherAbnormal: [String] = [
        #"degenerative"#, #"spondylo\w+"#, #"osteophyt\w*"#, #"scoliosis"#, #"kyphosis"#, #"kyphotic"#, #"calcif\w+"#,
        #"sternotomy"#, #"clips?"#, #"surgical"#, #"post ?surgical"#, #"hyperinflat\w*"#, #"hyperexpan\w*"#, #"scar\w*"#,
        #"fibros\w*"#, #"fibrotic"#, #"thickening"#, #"tortuo\w*"#, #"sutures?"#, #"tip"#, #"ectatic"#, #"ectasia"#,
        #"fractures?"#, #"deformit\w+"#, #"hernia"#, #"catheter"#, #"pacemaker"#, #"pacer"#, #"device"#, #"stents?"#,
        #"elevat\w+"#, #"eventration"#, #"lucenc\w+"#, #"copd"#, #"chronic obstructive"#, #"prominen\w+"#, #"flatten\w+"#,
        #"arthrit\w+"#, #"atheroscl\w+"#, #"mass"#, #"tubes?"#, #"hilar"#, #"wires?"#, #"markings"#, #"interstitial"#,
        #"blunting"#, #"volume loss"#, #"cyst\w*"#, #"bronchiectasis"#, #"enlarged"#, #"widen\w*"#, #"hyperlucen\w*"#,
        #"foreign body"#, #"port"#, #"picc"#, #"hardware"#, #"fusion"#, #"cholecystectomy"#, #"limited"#, #"shallow"#,
        #"low lung volumes"#, #"hypoinflat\w*"#, #"nipple"#, #"shift"#, #"dextro\w+"#, #"dilat\w+"#, #"aneurysm\w*"#,
        #"unfold\w*"#, #"loss of"#, #"compression"#, #"chronic"#, #"old"#, #"healed"#, #"bullae?"#, #"bullous"#,
    ]

    /// Negation cues before the finding ("no", "without", "negative for" …).
    public static let preNegation = ["no", "not", "without", "negative for", "free of", "no evidence of", "no sign of",
                                     "no signs of", "absence of", "clear of", "resolution of", "resolved", "removal of",
                                     "nor", "negative"]
    /// Negation cues after the finding ("… is not seen", "… has resolved").
    public static let postNegation = ["not seen", "not identified", "absent", "resolved", "has resolved", "have resolved",
                                      "not present", "not visualized", "not demonstrated", "not appreciated", "not evident",
                                      "no longer", "removed", "excluded", "not"]
    /// Uncertainty cues before the finding.
    public static let preUncertainty = ["versus", "vs", "question", "possible", "possibly", "may", "might", "could",
                                        "questionable", "question of", "suspicious for", "suspicion of", "suggest",
                                        "suggests", "suggestive of", "concerning for", "cannot exclude", "can not exclude",
                                        "differential", "equivocal", "presumed", "suspected", "suspect", "consider", "query"]
    /// Uncertainty cues after the finding.
    public static let postUncertainty = ["versus", "vs", "cannot be excluded", "can not be excluded", "not excluded",
                                         "cannot be ruled out", "not ruled out", "is possible", "are possible", "could be",
                                         "may be", "suspected", "questioned", "difficult to exclude", "not entirely excluded", "?"]
    /// Phrases that contain a cue word but are not cues ("no change" means the finding persists).
    public static let pseudoTriggers = ["no change", "no significant change", "no interval change", "no increase", "not only",
                                        "without change", "no new change", "unchanged", "not significantly changed",
                                        "no definite change", "gram negative", "not certain if", "not certain whether",
                                        "no appreciable change"]
    /// Words that end a cue's scope ("no effusion, but small atelectasis").
    public static let scopeTerminators: Set<String> = ["but", "however", "although", "though", "except", "aside", "apart",
                                                       "which", "otherwise", "there"]
    /// How many tokens a cue reaches (the IU reports list findings after one "no", so this is long).
    public static let scopeWindow = 25
}
