/* avro_frame.c - Confluent wire format framing and the shared read errors.
 */
#include "tb_avro.h"

#include "avro_binary.h"

int avro_rd_truncated(avro_rd *r, const char *what)
{
    return tb_error_set(r->err, TB_ERR_DECODE,
                        "avro: truncated input reading %s at byte offset %zu "
                        "of %zu",
                        what, (size_t)(r->p - r->base),
                        (size_t)(r->end - r->base));
}

int avro_rd_corrupt(avro_rd *r, const uint8_t *at, const char *what)
{
    return tb_error_set(r->err, TB_ERR_DECODE,
                        "avro: corrupt input at byte offset %zu: %s",
                        (size_t)(at - r->base), what);
}

int tb_avro_frame(int32_t schema_id, const uint8_t *body, size_t len,
                  tb_buf *out, tb_error *err)
{
    if (schema_id < 0)
        return tb_error_set(err, TB_ERR_INTERNAL,
                            "avro frame: negative schema id %d", schema_id);
    if (tb_buf_reserve(out, TB_AVRO_FRAME_HEADER + len) < 0)
        return tb_error_set(err, TB_ERR_NOMEM, "avro frame: out of memory");
    uint32_t id = (uint32_t)schema_id;
    uint8_t hdr[TB_AVRO_FRAME_HEADER] = {
        TB_AVRO_FRAME_MAGIC, (uint8_t)(id >> 24), (uint8_t)(id >> 16),
        (uint8_t)(id >> 8), (uint8_t)id};
    avro_put_raw(out, hdr, sizeof hdr);
    avro_put_raw(out, body, len);
    out->data[out->len] = '\0';
    return 0;
}

int tb_avro_unframe(const uint8_t *msg, size_t len, int32_t *schema_id,
                    const uint8_t **body, size_t *body_len, tb_error *err)
{
    if (len < TB_AVRO_FRAME_HEADER)
        return tb_error_set(err, TB_ERR_DECODE,
                            "avro frame: message too short (%zu bytes, the "
                            "header alone is %d)",
                            len, TB_AVRO_FRAME_HEADER);
    if (msg[0] != TB_AVRO_FRAME_MAGIC)
        return tb_error_set(err, TB_ERR_DECODE,
                            "avro frame: wrong magic byte 0x%02x (expected "
                            "0x00)",
                            msg[0]);
    uint32_t id = (uint32_t)msg[1] << 24 | (uint32_t)msg[2] << 16 |
                  (uint32_t)msg[3] << 8 | (uint32_t)msg[4];
    if (id > INT32_MAX)
        return tb_error_set(err, TB_ERR_DECODE,
                            "avro frame: schema id %u out of range", id);
    *schema_id = (int32_t)id;
    *body = msg + TB_AVRO_FRAME_HEADER;
    *body_len = len - TB_AVRO_FRAME_HEADER;
    return 0;
}
