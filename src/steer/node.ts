/**
 * `tyche/steer/node`: the Node-only parts of the language-model layer, kept
 * out of the browser-safe `tyche/steer` entry: loading the shipped models
 * from models/lm, the GGUF writer/reader, the llama.cpp adapter
 * (node-llama-cpp, an optional peer dependency) and the OpenAI-compatible
 * server behind `tyche serve`.
 *
 * @module
 */
export { SHIPPED_LM_DIR, SHIPPED_MODELS, loadTransformerLM, loadProcessRewardModel, readModelFiles, saveModelFiles, modelPath } from './lm/transformer/files.js';
export { encodeGGUF, transformerToGGUF, exportTransformerGGUF, readGGUFInfo, byteToUnicode, GGUFType, type GGUFValue, type GGUFTensor, type GGUFInfo, type ExportableTransformer } from './lm/gguf.js';
export { loadLlamaCpp, LlamaCppLanguageModel, GGUFVocabulary, importNodeLlamaCpp, type LlamaCppOptions } from './lm/llama-cpp.js';
export { serveLanguageModel, completions, type ServeOptions } from './lm/serve.js';
