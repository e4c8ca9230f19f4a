// lepton_j2k.c: JPEG 2000 through OpenJPEG (BSD) from memory. OpenJPEG reports errors through a
// callback and a false return; the callback only records the first message.

#include "lepton_codecs.h"

#include <openjpeg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
} memory_source;

static OPJ_SIZE_T read_memory(void *buffer, OPJ_SIZE_T n, void *user) {
    memory_source *src = (memory_source *)user;
    size_t left = src->size - src->pos;
    if (left == 0) return (OPJ_SIZE_T)-1;
    if (n > left) n = left;
    memcpy(buffer, src->data + src->pos, n);
    src->pos += n;
    return n;
}

static OPJ_OFF_T skip_memory(OPJ_OFF_T n, void *user) {
    memory_source *src = (memory_source *)user;
    if (n < 0) {
        if ((size_t)(-n) > src->pos) n = -(OPJ_OFF_T)src->pos;
    } else if ((size_t)n > src->size - src->pos) {
        n = (OPJ_OFF_T)(src->size - src->pos);
    }
    src->pos = (size_t)((OPJ_OFF_T)src->pos + n);
    return n;
}

static OPJ_BOOL seek_memory(OPJ_OFF_T n, void *user) {
    memory_source *src = (memory_source *)user;
    if (n < 0 || (size_t)n > src->size) return OPJ_FALSE;
    src->pos = (size_t)n;
    return OPJ_TRUE;
}

static void on_error(const char *msg, void *user) {
    char *message = (char *)user;
    if (message && message[0] == 0) {
        snprintf(message, 256, "%s", msg);
        size_t n = strlen(message);
        while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == ' ')) message[--n] = 0;
    }
}

static void on_quiet(const char *msg, void *user) {
    (void)msg;
    (void)user;
}

static int fail(char *message, const char *text) {
    if (message && message[0] == 0) snprintf(message, 256, "%s", text);
    return 1;
}

int lepton_j2k_decode(const uint8_t *data, size_t size, int bytes_per_sample, int max_tiles,
                      uint8_t *out, size_t out_size, char *message) {
    if (message) message[0] = 0;
    if (data == NULL || size < 12) return fail(message, "JPEG 2000 codestream too short");
    if (bytes_per_sample != 1 && bytes_per_sample != 2 && bytes_per_sample != 4) return fail(message, "unsupported sample size");
    static const uint8_t jp2_signature[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
    OPJ_CODEC_FORMAT format = memcmp(data, jp2_signature, 12) == 0 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K;

    memory_source src = {data, size, 0};
    opj_stream_t *stream = opj_stream_create(64 * 1024, OPJ_TRUE);
    opj_codec_t *codec = opj_create_decompress(format);
    opj_image_t *image = NULL;
    int rc = 0;
    if (stream == NULL || codec == NULL) { rc = fail(message, "out of memory creating the JPEG 2000 decoder"); goto done; }
    opj_stream_set_user_data(stream, &src, NULL);
    opj_stream_set_user_data_length(stream, size);
    opj_stream_set_read_function(stream, read_memory);
    opj_stream_set_skip_function(stream, skip_memory);
    opj_stream_set_seek_function(stream, seek_memory);
    opj_set_error_handler(codec, on_error, message);
    opj_set_warning_handler(codec, on_quiet, NULL);
    opj_set_info_handler(codec, on_quiet, NULL);

    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec, &params)) { rc = fail(message, "JPEG 2000 decoder set-up failed"); goto done; }
    if (!opj_read_header(stream, codec, &image) || image == NULL) { rc = fail(message, "JPEG 2000 header cannot be read"); goto done; }
    // Second line of defence (the Swift caller checks the SIZ marker before calling).
    opj_codestream_info_v2_t *info = opj_get_cstr_info(codec);
    if (info) {
        OPJ_UINT64 tiles = (OPJ_UINT64)info->tw * info->th;
        opj_destroy_cstr_info(&info);
        if (tiles == 0 || tiles > (OPJ_UINT64)max_tiles) {
            if (message) snprintf(message, 256, "JPEG 2000 header claims %llu tiles, over the limit of %d", (unsigned long long)tiles, max_tiles);
            rc = 1;
            goto done;
        }
    }
    OPJ_UINT32 w = image->x1 - image->x0, h = image->y1 - image->y0, nc = image->numcomps;
    if (nc == 0 || (size_t)w * h * nc * (size_t)bytes_per_sample != out_size) {
        if (message) snprintf(message, 256, "JPEG 2000 frame %u x %u x %u does not match the DICOM header", w, h, nc);
        rc = 1;
        goto done;
    }
    if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream)) {
        rc = fail(message, "JPEG 2000 data cannot be decoded");
        goto done;
    }
    for (OPJ_UINT32 c = 0; c < nc; c++) {
        opj_image_comp_t *comp = &image->comps[c];
        if (comp->data == NULL || comp->w != w || comp->h != h) {
            rc = fail(message, "JPEG 2000 component is subsampled or missing");
            goto done;
        }
    }
    size_t pixels = (size_t)w * h;
    for (size_t p = 0; p < pixels; p++) {
        for (OPJ_UINT32 c = 0; c < nc; c++) {
            uint32_t v = (uint32_t)image->comps[c].data[p];
            uint8_t *o = out + (p * nc + c) * (size_t)bytes_per_sample;
            for (int k = 0; k < bytes_per_sample; k++) o[k] = (uint8_t)(v >> (8 * k));
        }
    }
done:
    if (image) opj_image_destroy(image);
    if (codec) opj_destroy_codec(codec);
    if (stream) opj_stream_destroy(stream);
    return rc;
}
