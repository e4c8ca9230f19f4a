/// Receives a training curve one point at a time: the point's figures by name (for example
/// `trees_train_loss` and `trees_validation_pr_auc` at a boosting checkpoint, `gnn_train_loss` at
/// a GNN epoch). `lepton-risk train --logdir` writes them as TensorBoard scalars and `curves.csv`.
public typealias TrainingCurve = ([String: Float]) throws -> Void
