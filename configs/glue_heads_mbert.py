# The setting of Budhraja et al. (2021), "On the Prunability of Attention Heads in Multilingual BERT": attention heads
# of English BERT and multilingual BERT (both cased, 12 layers x 12 heads) deleted after fine-tuning on GLUE, here at
# random (head_deletion, each head with probability p, 10 draws per level), in all layers and per layer group.
# They found almost the same relative drops for mBERT and BERT, a published null result for the paper's claim.
# Needs the Hugging Face hub (or the models and GLUE in the local cache) and a GPU. One run per task:
#   for task in mrpc rte wnli; do
#     python run_glue_test.py configs/glue_heads_mbert.py --task=$task --out_dir=results/glue_heads_mbert/$task
#   done
models = 'bert=bert-base-cased,mbert=bert-base-multilingual-cased'
compare = ['mbert:bert']
task = 'mrpc'
epochs = 3
batch_size = 32
max_length = 128
lr = 2e-5
kinds = ['head_deletion']
scope = ['attn']
layer_sets = ['all', 'first', 'middle', 'last']
levels = [round(0.05 * i, 2) for i in range(21)]
repeats = 10
out_dir = 'results/glue_heads_mbert/mrpc'
visuals_dir = 'visuals/glue_heads_mbert'
