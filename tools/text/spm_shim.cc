// spm_shim.cc — the C interface of spm.h over SentencePiece's C++ API. Every entry point
// catches everything: no exception leaves this file.
#include "spm.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

// Exported by libsentencepiece (0.1.9x) but absent from its public headers: the threshold of
// its training log. Declared here so a quiet training does not print to stderr.
namespace sentencepiece {
namespace logging {
void SetMinLogLevel(int v);
int GetMinLogLevel();
} // namespace logging
} // namespace sentencepiece

struct attn_spm {
    sentencepiece::SentencePieceProcessor proc;
    std::string bytes; // the serialized model, kept for attn_spm_serialize
};

namespace {

thread_local char last_error[512];

int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int from_status(const char *fn, const sentencepiece::util::Status &s)
{
    using sentencepiece::util::StatusCode;
    int code = ATTN_E_ARG;
    switch (s.code()) {
    case StatusCode::kNotFound:
    case StatusCode::kPermissionDenied:
    case StatusCode::kDataLoss: code = ATTN_E_IO; break;
    case StatusCode::kResourceExhausted: code = ATTN_E_NOMEM; break;
    case StatusCode::kInternal: code = ATTN_E_FORMAT; break;
    default: break;
    }
    return fail(code, "%s: sentencepiece: %s", fn, s.ToString().c_str());
}

// Runs body, turning any exception into a status.
template <class F> int guarded(const char *fn, F body)
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    } catch (const std::exception &e) {
        return fail(ATTN_E_STATE, "%s: %s", fn, e.what());
    } catch (...) {
        return fail(ATTN_E_STATE, "%s: unknown C++ exception", fn);
    }
}

class ArrayIterator : public sentencepiece::SentenceIterator {
  public:
    ArrayIterator(const char *const *s, int64_t n) : s_(s), n_(n) { load(); }
    bool done() const override { return i_ >= n_; }
    void Next() override
    {
        ++i_;
        load();
    }
    const std::string &value() const override { return cur_; }
    sentencepiece::util::Status status() const override { return {}; }

  private:
    void load()
    {
        if (i_ < n_) cur_.assign(s_[i_] ? s_[i_] : "");
    }
    const char *const *s_;
    int64_t n_;
    int64_t i_ = 0;
    std::string cur_;
};

class FileIterator : public sentencepiece::SentenceIterator {
  public:
    explicit FileIterator(const char *path) : in_(path, std::ios::binary) { Next(); }
    bool done() const override { return done_; }
    void Next() override
    {
        if (!std::getline(in_, cur_)) {
            done_ = true;
            return;
        }
        if (!cur_.empty() && cur_.back() == '\r') cur_.pop_back();
    }
    const std::string &value() const override { return cur_; }
    sentencepiece::util::Status status() const override { return {}; }
    bool opened() const { return in_.is_open(); }

  private:
    std::ifstream in_;
    std::string cur_;
    bool done_ = false;
};

int join_symbols(const char *fn, const char *what, const char *const *syms, int n, std::string *out)
{
    if (n < 0 || (n > 0 && syms == nullptr))
        return fail(ATTN_E_ARG, "%s: %s: %d symbols but no array", fn, what, n);
    out->clear();
    for (int i = 0; i < n; i++) {
        if (syms[i] == nullptr || syms[i][0] == '\0')
            return fail(ATTN_E_ARG, "%s: %s[%d] is empty", fn, what, i);
        if (std::strchr(syms[i], ',') != nullptr)
            return fail(ATTN_E_ARG, "%s: %s[%d] \"%s\" contains a comma", fn, what, i, syms[i]);
        if (i) out->push_back(',');
        out->append(syms[i]);
    }
    return ATTN_OK;
}

int make_args(const char *fn, const attn_spm_train_options *opt,
              std::unordered_map<std::string, std::string> *kw)
{
    attn_spm_train_options o{};
    if (opt) o = *opt;
    if (o.model_type != ATTN_SPM_UNIGRAM && o.model_type != ATTN_SPM_BPE)
        return fail(ATTN_E_ARG, "%s: unknown model_type %d", fn, (int)o.model_type);
    if (o.normalization != ATTN_SPM_NORM_NMT_NFKC && o.normalization != ATTN_SPM_NORM_IDENTITY)
        return fail(ATTN_E_ARG, "%s: unknown normalization %d", fn, (int)o.normalization);
    int vocab = o.vocab_size ? o.vocab_size : 8000;
    int reserved = 4 + o.n_control_symbols + o.n_user_symbols + 256;
    if (vocab <= reserved)
        return fail(ATTN_E_ARG, "%s: vocab_size=%d leaves no room past %d reserved pieces", fn,
                    vocab, reserved);
    double cov = o.character_coverage == 0.0 ? 1.0 : o.character_coverage;
    if (!(cov > 0.0 && cov <= 1.0))
        return fail(ATTN_E_ARG, "%s: character_coverage=%g not in (0, 1]", fn, cov);
    if (o.num_threads < 0 || o.max_sentences < 0)
        return fail(ATTN_E_ARG, "%s: negative num_threads or max_sentences", fn);
    std::string control, user;
    int st = join_symbols(fn, "control_symbols", o.control_symbols, o.n_control_symbols, &control);
    if (st == ATTN_OK)
        st = join_symbols(fn, "user_symbols", o.user_symbols, o.n_user_symbols, &user);
    if (st != ATTN_OK) return st;

    auto &k = *kw;
    k["model_type"] = o.model_type == ATTN_SPM_BPE ? "bpe" : "unigram";
    k["vocab_size"] = std::to_string(vocab);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", cov);
    k["character_coverage"] = buf;
    k["normalization_rule_name"] = o.normalization == ATTN_SPM_NORM_IDENTITY ? "identity" : "nmt_nfkc";
    k["byte_fallback"] = "true";
    k["pad_id"] = "0";
    k["unk_id"] = "1";
    k["bos_id"] = "2";
    k["eos_id"] = "3";
    k["num_threads"] = std::to_string(o.num_threads ? o.num_threads : 1);
    k["hard_vocab_limit"] = o.hard_vocab_limit ? "true" : "false";
    k["max_sentence_length"] = "65536";
    if (o.max_sentences > 0) {
        k["input_sentence_size"] = std::to_string(o.max_sentences);
        k["shuffle_input_sentence"] = "true";
    }
    if (o.keep_whitespace) {
        k["add_dummy_prefix"] = "false";
        k["remove_extra_whitespaces"] = "false";
    }
    if (!control.empty()) k["control_symbols"] = control;
    if (!user.empty()) k["user_defined_symbols"] = user;
    if (o.seed) sentencepiece::SetRandomGeneratorSeed(o.seed);
    return ATTN_OK;
}

// ---- the normalisation rules a model may carry -----------------------------------------------
//
// A model's normalizer_spec holds a precompiled_charsmap: a double-array trie and its targets,
// which libsentencepiece walks without bounds checks, so a crafted one crashes the first encode.
// The only charsmaps accepted are those SentencePiece itself builds for the rule names it
// knows (obtained from this libsentencepiece by training a tiny model under that rule, once per
// name and process), byte for byte, or none at all (the identity). The serialized ModelProto is
// read here as protobuf wire format (field numbers from sentencepiece_model.proto: ModelProto
// 3 normalizer_spec, 5 denormalizer_spec; NormalizerSpec 1 name, 2 precompiled_charsmap).

const char *const BUILTIN_RULES[] = {"nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"};

struct wire {
    const unsigned char *p, *end;
    bool varint(uint64_t *v)
    {
        *v = 0;
        for (int shift = 0; shift < 64 && p < end; shift += 7) {
            unsigned char b = *p++;
            *v |= (uint64_t)(b & 127) << shift;
            if (!(b & 128)) return true;
        }
        return false;
    }
    // Next field: number, wire type, and for length-delimited ones the payload. false at the
    // end or on malformed input (*bad set).
    bool next(uint32_t *field, int *type, const unsigned char **data, size_t *len, bool *bad)
    {
        if (p >= end) return false;
        uint64_t key, v;
        if (!varint(&key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) return !(*bad = true);
        *field = (uint32_t)(key >> 3), *type = (int)(key & 7);
        switch (*type) {
        case 0: if (!varint(&v)) return !(*bad = true); break;
        case 1: if (end - p < 8) return !(*bad = true); p += 8; break;
        case 5: if (end - p < 4) return !(*bad = true); p += 4; break;
        case 2:
            if (!varint(&v) || v > (uint64_t)(end - p)) return !(*bad = true);
            *data = p, *len = (size_t)v, p += v;
            break;
        default: return !(*bad = true); // groups and unknown types
        }
        return true;
    }
};

// Merged view of every occurrence of a NormalizerSpec field (protobuf: the last value wins).
struct spec_view {
    bool present = false;
    std::string name, charsmap;
};

bool read_spec(const unsigned char *d, size_t n, spec_view *v)
{
    wire w{d, d + n};
    uint32_t f;
    int t;
    const unsigned char *data = nullptr;
    size_t len = 0;
    bool bad = false;
    v->present = true;
    while (w.next(&f, &t, &data, &len, &bad)) {
        if (f == 1 && t == 2) v->name.assign(reinterpret_cast<const char *>(data), len);
        if (f == 2 && t == 2) v->charsmap.assign(reinterpret_cast<const char *>(data), len);
    }
    return !bad;
}

// The charsmap SentencePiece builds for rule `name` (cached), from a model trained under it.
int builtin_charsmap(const char *fn, const std::string &name, const std::string **out)
{
    static std::mutex mu;
    static std::map<std::string, std::string> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(name);
    if (it != cache.end()) return *out = &it->second, ATTN_OK;
    static const char *const corpus[] = {"abc abd", "bca dab", "cab bad"};
    ArrayIterator text(corpus, 3);
    std::unordered_map<std::string, std::string> kw = {
        {"model_type", "char"}, {"vocab_size", "16"}, {"hard_vocab_limit", "false"},
        {"normalization_rule_name", name}, {"num_threads", "1"}};
    int old_level = sentencepiece::logging::GetMinLogLevel();
    sentencepiece::logging::SetMinLogLevel(2);
    std::string model;
    auto s = sentencepiece::SentencePieceTrainer::Train(kw, &text, &model);
    sentencepiece::logging::SetMinLogLevel(old_level);
    if (!s.ok()) return from_status(fn, s);
    wire w{reinterpret_cast<const unsigned char *>(model.data()),
           reinterpret_cast<const unsigned char *>(model.data()) + model.size()};
    uint32_t f;
    int t;
    const unsigned char *data = nullptr;
    size_t len = 0;
    bool bad = false;
    spec_view v;
    while (w.next(&f, &t, &data, &len, &bad))
        if (f == 3 && t == 2 && !read_spec(data, len, &v)) bad = true;
    if (bad || !v.present)
        return fail(ATTN_E_STATE, "%s: the reference model for rule \"%s\" has no normalizer", fn,
                    name.c_str());
    *out = &(cache[name] = v.charsmap);
    return ATTN_OK;
}

// what: the model's origin for messages.
int check_normalizers(const char *fn, const char *what, const std::string &bytes)
{
    const auto *b = reinterpret_cast<const unsigned char *>(bytes.data());
    wire w{b, b + bytes.size()};
    uint32_t f;
    int t;
    const unsigned char *data = nullptr;
    size_t len = 0;
    bool bad = false;
    spec_view norm, denorm;
    while (w.next(&f, &t, &data, &len, &bad)) {
        if (f == 3 && t == 2 && !read_spec(data, len, &norm)) bad = true;
        if (f == 5 && t == 2 && !read_spec(data, len, &denorm)) bad = true;
        if ((f == 3 || f == 5) && t != 2) bad = true;
    }
    if (bad) return fail(ATTN_E_FORMAT, "%s: %s: not a SentencePiece model (malformed protobuf)", fn, what);
    if (!denorm.charsmap.empty())
        return fail(ATTN_E_FORMAT, "%s: %s: a denormalization charsmap (%zu bytes) is not one SentencePiece "
                    "builds in: refused", fn, what, denorm.charsmap.size());
    if (norm.charsmap.empty()) return ATTN_OK; // the identity
    bool known = false;
    for (const char *r : BUILTIN_RULES) known |= norm.name == r;
    if (!known || norm.name.size() > 64)
        return fail(ATTN_E_FORMAT, "%s: %s: normalization rule \"%.64s\" is not one SentencePiece builds in: "
                    "its charsmap (%zu bytes) is refused", fn, what, norm.name.c_str(), norm.charsmap.size());
    const std::string *ref = nullptr;
    int st = builtin_charsmap(fn, norm.name, &ref);
    if (st != ATTN_OK) return st;
    if (*ref != norm.charsmap)
        return fail(ATTN_E_FORMAT, "%s: %s: the charsmap of normalization rule \"%s\" (%zu bytes) differs "
                    "from the one SentencePiece builds (%zu bytes): refused", fn, what, norm.name.c_str(),
                    norm.charsmap.size(), ref->size());
    return ATTN_OK;
}

// what: the model's origin for messages (a path, "the trained model", "memory").
int load_serialized(const char *fn, const char *what, std::string bytes, attn_spm **out)
{
    int st = check_normalizers(fn, what, bytes);
    if (st != ATTN_OK) return st;
    // owned until the end: libsentencepiece can throw from the load (guarded() catches it)
    std::unique_ptr<attn_spm> sp(new attn_spm);
    auto s = sp->proc.LoadFromSerializedProto(bytes);
    if (!s.ok())
        return fail(ATTN_E_FORMAT, "%s: %s: not a SentencePiece model (%s)", fn, what,
                    s.ToString().c_str());
    sp->bytes = std::move(bytes);
    *out = sp.release();
    return ATTN_OK;
}

int train(const char *fn, sentencepiece::SentenceIterator *it, const attn_spm_train_options *opt,
          attn_spm **out)
{
    std::unordered_map<std::string, std::string> kw;
    int st = make_args(fn, opt, &kw);
    if (st != ATTN_OK) return st;
    int old_level = sentencepiece::logging::GetMinLogLevel();
    if (!(opt && opt->verbose)) sentencepiece::logging::SetMinLogLevel(2);
    std::string model;
    auto s = sentencepiece::SentencePieceTrainer::Train(kw, it, &model);
    sentencepiece::logging::SetMinLogLevel(old_level);
    if (!s.ok()) return from_status(fn, s);
    return load_serialized(fn, "the trained model", std::move(model), out);
}

bool model_ok(const char *fn, const attn_spm *sp, int *st)
{
    if (sp == nullptr) {
        *st = fail(ATTN_E_ARG, "%s: sp is NULL", fn);
        return false;
    }
    return true;
}

} // namespace

extern "C" {

const char *attn_spm_last_error(void) { return last_error; }

int attn_spm_train(const char *const *sentences, int64_t n, const attn_spm_train_options *opt,
                   attn_spm **out)
{
    static const char fn[] = "attn_spm_train";
    return guarded(fn, [&]() -> int {
        if (!out) return fail(ATTN_E_ARG, "%s: out is NULL", fn);
        *out = nullptr;
        if (!sentences || n < 1) return fail(ATTN_E_ARG, "%s: need at least one sentence", fn);
        for (int64_t i = 0; i < n; i++)
            if (!sentences[i])
                return fail(ATTN_E_ARG, "%s: sentences[%lld] is NULL", fn, (long long)i);
        ArrayIterator it(sentences, n);
        return train(fn, &it, opt, out);
    });
}

int attn_spm_train_file(const char *path, const attn_spm_train_options *opt, attn_spm **out)
{
    static const char fn[] = "attn_spm_train_file";
    return guarded(fn, [&]() -> int {
        if (!out) return fail(ATTN_E_ARG, "%s: out is NULL", fn);
        *out = nullptr;
        if (!path) return fail(ATTN_E_ARG, "%s: path is NULL", fn);
        FileIterator it(path);
        if (!it.opened()) return fail(ATTN_E_IO, "%s: cannot open %s", fn, path);
        if (it.done()) return fail(ATTN_E_FORMAT, "%s: %s has no lines", fn, path);
        return train(fn, &it, opt, out);
    });
}

int attn_spm_load_file(const char *path, attn_spm **out)
{
    static const char fn[] = "attn_spm_load_file";
    return guarded(fn, [&]() -> int {
        if (!out) return fail(ATTN_E_ARG, "%s: out is NULL", fn);
        *out = nullptr;
        if (!path) return fail(ATTN_E_ARG, "%s: path is NULL", fn);
        std::ifstream in(path, std::ios::binary);
        if (!in) return fail(ATTN_E_IO, "%s: cannot open %s", fn, path);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (in.bad()) return fail(ATTN_E_IO, "%s: cannot read %s", fn, path);
        return load_serialized(fn, path, std::move(bytes), out);
    });
}

int attn_spm_load_bytes(const void *data, size_t size, attn_spm **out)
{
    static const char fn[] = "attn_spm_load_bytes";
    return guarded(fn, [&]() -> int {
        if (!out) return fail(ATTN_E_ARG, "%s: out is NULL", fn);
        *out = nullptr;
        if (!data && size) return fail(ATTN_E_ARG, "%s: data is NULL", fn);
        if (size == 0) return fail(ATTN_E_FORMAT, "%s: empty model", fn);
        return load_serialized(fn, "memory", std::string(static_cast<const char *>(data), size),
                               out);
    });
}

void attn_spm_free(attn_spm *sp) { delete sp; }

int attn_spm_serialize(const attn_spm *sp, void *buf, size_t cap, size_t *size)
{
    static const char fn[] = "attn_spm_serialize";
    return guarded(fn, [&]() -> int {
        int st;
        if (!model_ok(fn, sp, &st)) return st;
        if (!size) return fail(ATTN_E_ARG, "%s: size is NULL", fn);
        *size = sp->bytes.size();
        if (!buf) return ATTN_OK;
        if (cap < sp->bytes.size())
            return fail(ATTN_E_ARG, "%s: cap=%zu but the model has %zu bytes", fn, cap,
                        sp->bytes.size());
        std::memcpy(buf, sp->bytes.data(), sp->bytes.size());
        return ATTN_OK;
    });
}

int attn_spm_save_file(const attn_spm *sp, const char *path)
{
    static const char fn[] = "attn_spm_save_file";
    return guarded(fn, [&]() -> int {
        int st;
        if (!model_ok(fn, sp, &st)) return st;
        if (!path) return fail(ATTN_E_ARG, "%s: path is NULL", fn);
        std::FILE *f = std::fopen(path, "wb");
        if (!f) return fail(ATTN_E_IO, "%s: cannot create %s", fn, path);
        size_t w = std::fwrite(sp->bytes.data(), 1, sp->bytes.size(), f);
        int closed = std::fclose(f);
        if (w != sp->bytes.size() || closed != 0)
            return fail(ATTN_E_IO, "%s: cannot write %s", fn, path);
        return ATTN_OK;
    });
}

int attn_spm_vocab_size(const attn_spm *sp, int32_t *size)
{
    static const char fn[] = "attn_spm_vocab_size";
    return guarded(fn, [&]() -> int {
        int st;
        if (!model_ok(fn, sp, &st)) return st;
        if (!size) return fail(ATTN_E_ARG, "%s: size is NULL", fn);
        *size = sp->proc.GetPieceSize();
        return ATTN_OK;
    });
}

int attn_spm_encode(const attn_spm *sp, const char *text, int32_t *ids, int64_t cap,
                    int64_t *n_ids)
{
    static const char fn[] = "attn_spm_encode";
    return guarded(fn, [&]() -> int {
        int st;
        if (!model_ok(fn, sp, &st)) return st;
        if (!text || !n_ids) return fail(ATTN_E_ARG, "%s: text or n_ids is NULL", fn);
        std::vector<int> v;
        auto s = sp->proc.Encode(text, &v);
        if (!s.ok()) return from_status(fn, s);
        *n_ids = (int64_t)v.size();
        if (!ids) return ATTN_OK;
        if (cap < (int64_t)v.size())
            return fail(ATTN_E_ARG, "%s: cap=%lld but the text has %zu ids", fn, (long long)cap,
                        v.size());
        for (size_t i = 0; i < v.size(); i++) ids[i] = v[i];
        return ATTN_OK;
    });
}

int attn_spm_decode(const attn_spm *sp, const int32_t *ids, int64_t n, char *out, size_t cap,
                    size_t *len)
{
    static const char fn[] = "attn_spm_decode";
    return guarded(fn, [&]() -> int {
        int st;
        if (!model_ok(fn, sp, &st)) return st;
        if ((!ids && n > 0) || n < 0 || !len)
            return fail(ATTN_E_ARG, "%s: ids, n or len invalid", fn);
        int vocab = sp->proc.GetPieceSize();
        std::vector<int> v((size_t)n);
        for (int64_t i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= vocab)
                return fail(ATTN_E_ARG, "%s: ids[%lld]=%d outside [0, %d)", fn, (long long)i,
                            (int)ids[i], vocab);
            v[(size_t)i] = ids[i];
        }
        std::string text;
        auto s = sp->proc.Decode(v, &text);
        if (!s.ok()) return from_status(fn, s);
        *len = text.size();
        if (!out) return ATTN_OK;
        if (cap < text.size() + 1)
            return fail(ATTN_E_ARG, "%s: cap=%zu but the text needs %zu bytes", fn, cap,
                        text.size() + 1);
        std::memcpy(out, text.data(), text.size());
        out[text.size()] = '\0';
        return ATTN_OK;
    });
}

int attn_spm_id_to_piece(const attn_spm *sp, int32_t id, const char **piece)
{
    static const char fn[] = "attn_spm_id_to_piece";
    return guarded(fn, [&]() -> int {
        int st;
        if (!model_ok(fn, sp, &st)) return st;
        if (!piece) return fail(ATTN_E_ARG, "%s: piece is NULL", fn);
        int vocab = sp->proc.GetPieceSize();
        if (id < 0 || id >= vocab)
            return fail(ATTN_E_ARG, "%s: id=%d outside [0, %d)", fn, (int)id, vocab);
        *piece = sp->proc.IdToPiece(id).c_str();
        return ATTN_OK;
    });
}

int attn_spm_piece_to_id(const attn_spm *sp, const char *piece, int32_t *id)
{
    static const char fn[] = "attn_spm_piece_to_id";
    return guarded(fn, [&]() -> int {
        int st;
        if (!model_ok(fn, sp, &st)) return st;
        if (!piece || !id) return fail(ATTN_E_ARG, "%s: piece or id is NULL", fn);
        *id = sp->proc.PieceToId(piece);
        return ATTN_OK;
    });
}

} // extern "C"
