// Writes a synthetic RSR score file shaped like `panscore rsr --per-token` output, for the report's
// size and load-time benchmark: node make-big-scores.mjs OUT.jsonl [trajectories] [tokens each]
// 4 teachers, 4 trajectories per problem; seeded, so every run writes the same file.
import fs from 'node:fs';

const [out, nArg, tArg] = process.argv.slice(2);
const n = Number(nArg || 10000);
const perTraj = Number(tArg || 256);
let seed = 42;
const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const words = ['the', ' cat', ' sat', ' on', ' mat', '.', '\n\n', ' 5', '050', ' pair', ' sum', ' is', ' =', ' +', ' and', ' so'];
const fd = fs.openSync(out, 'w');
for (let i = 0; i < n; i++) {
  const teacher = `teacher-${i % 4}`;
  const problem = `problem-${Math.floor(i / 4)}`;
  const ids = []; const lp = []; const h = []; const r = []; const texts = [];
  let sumS = 0; let sumR = 0; let sumH = 0;
  for (let t = 0; t < perTraj; t++) {
    const id = Math.floor(rand() * words.length);
    const s = -Math.log(Math.max(1e-6, rand())) * (1 + (i % 4) * 0.2);
    const rank = Math.min(100, 1 + Math.floor(Math.exp(s) - 1));
    const ent = rand() * 4;
    ids.push(id); lp.push(-Number(s.toFixed(6))); h.push(Number(ent.toFixed(6))); r.push(rank); texts.push(words[id]);
    sumS += s; sumR += Math.min(rank, 100); sumH += ent;
  }
  const rec = {
    id: `${problem}/${teacher}/${i}`, problem, teacher, tokens: perTraj, mean_surprisal: sumS / perTraj, mean_clipped_rank: sumR / perTraj,
    rsr: sumR / Math.max(sumS, 1e-12), mean_entropy: sumH / perTraj, perplexity: Math.exp(sumS / perTraj),
    token_ids: ids, token_logprobs: lp, token_entropies: h, token_ranks: r, token_texts: texts,
  };
  fs.writeSync(fd, JSON.stringify(rec) + '\n');
}
fs.closeSync(fd);
