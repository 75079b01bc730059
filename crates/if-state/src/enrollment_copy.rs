//! The copy of an `images.yaml` entry kept in its state file "for reference".

use if_model::enrollment::ImageEntry;
use if_model::yaml::Node;

/// The entry as a YAML tree, in `images.yaml`'s key order (defaults written out).
pub fn to_node(entry: &ImageEntry) -> Node {
    let mut fields = vec![
        ("registry".to_string(), Node::str(&entry.registry)),
        ("repository".to_string(), Node::str(&entry.repository)),
    ];
    if let Some(s) = &entry.source {
        let mut src = vec![
            ("provider".to_string(), Node::str(s.provider.as_str())),
            ("repo".to_string(), Node::str(&s.repo)),
            ("branch".to_string(), Node::str(&s.branch)),
            ("dockerfile".to_string(), Node::str(&s.dockerfile)),
        ];
        for (key, value) in [
            ("workflow", &s.workflow),
            ("pipeline", &s.pipeline),
            ("job", &s.job),
            ("api", &s.api),
        ] {
            if let Some(v) = value {
                src.push((key.to_string(), Node::str(v)));
            }
        }
        if s.pipeline_inputs {
            src.push(("pipelineInputs".to_string(), Node::bool(true)));
        }
        fields.push(("source".to_string(), Node::map(src)));
    }
    fields.push((
        "rebuildDelay".to_string(),
        Node::str(entry.rebuild_delay.to_string()),
    ));
    if entry.cascade_delay.as_minutes() > 0 {
        fields.push((
            "cascadeDelay".to_string(),
            Node::str(entry.cascade_delay.to_string()),
        ));
    }
    fields.push(("autoRebuild".to_string(), Node::bool(entry.auto_rebuild)));
    if let Some(a) = &entry.allow_tags {
        fields.push(("allowTags".to_string(), Node::str(a)));
    }
    if let Some(s) = entry.image_selection_strategy {
        fields.push(("imageSelectionStrategy".to_string(), Node::str(s.as_str())));
    }
    Node::map(fields)
}
