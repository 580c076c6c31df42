# The study's task sweep (`make study`, docs/study.md): the offline translation task (which English translation a
# verse comes from) on a classifier fine-tuned from each of the five training seeds of the three models of
# configs/study_train.py, with the default's kinds and grids.
#   python run_glue_test.py configs/study_glue.py
models = ('monolingual=results/study/train_bilingual_gpt2/monolingual,'
          'bilingual=results/study/train_bilingual_gpt2/bilingual,'
          'control=results/study/train_bilingual_gpt2/control')
out_dir = 'results/study/run_glue_test'
visuals_dir = 'visuals/study'
