package llm

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeChunk checks the hand-written chunk decoder against
// encoding/json, which it replaces on the streaming path: the same
// chunks give the same wireChunk, and what encoding/json refuses it
// refuses.
func TestDecodeChunk(t *testing.T) {
	tests := []struct {
		name string
		data string
		bad  bool
	}{
		{name: "openai delta", data: `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}]}`},
		{name: "role only", data: `{"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`},
		{name: "finish", data: `{"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`},
		{name: "usage chunk with no choices", data: `{"model":"m","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":50,"total_tokens":62,"prompt_tokens_details":{"cached_tokens":0}}}`},
		{name: "null usage and choices", data: `{"model":"m","choices":null,"usage":null}`},
		{name: "reasoning", data: `{"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"Let me think"},"finish_reason":null}]}`},
		{name: "second choice", data: `{"choices":[{"index":1,"delta":{"content":"b"}},{"index":0,"delta":{"content":"a"}}]}`},
		{name: "whole message", data: `{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \u4f60\u597d \"q\" \\ \n"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`},
		{name: "error object", data: `{"error":{"code":"InvalidParameter","message":"bad","param":null,"type":"BadRequest"}}`},
		{name: "error string", data: `{"error":"model not found"}`},
		{name: "error null", data: `{"error":null,"choices":[{"index":0,"delta":{"content":"x"}}]}`},
		{name: "top-level code", data: `{"code":"DataInspectionFailed","message":"Input data may contain inappropriate content.","request_id":"r"}`},
		{name: "numeric code", data: `{"code":429,"message":"slow down"}`},
		{name: "null chunk", data: `null`},
		{name: "empty object", data: `{}`},
		{name: "whitespace", data: " {\"model\" : \"m\" ,\n\"choices\":[ ]} \n"},
		{name: "unknown nested", data: `{"x":{"y":[1,{"z":null}]},"choices":[{"index":0,"delta":{"tool_calls":[{"id":"t"}],"content":"c"},"extra":[true]}]}`},
		{name: "truncated", data: `{"model":"m","choices":[{"index":0,"delta":{"content":"He`, bad: true},
		{name: "not json", data: `Hello`, bad: true},
		{name: "string content is a number", data: `{"choices":[{"index":0,"delta":{"content":5}}]}`, bad: true},
		{name: "index is a string", data: `{"choices":[{"index":"0"}]}`, bad: true},
		{name: "two values", data: `{} {}`, bad: true},
		{name: "array", data: `[]`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want wireChunk
			wantErr := json.Unmarshal([]byte(tt.data), &want)
			if (wantErr != nil) != tt.bad {
				t.Fatalf("the table is wrong: encoding/json error = %v, bad = %v", wantErr, tt.bad)
			}
			var got wireChunk
			err := decodeChunk([]byte(tt.data), &got)
			if tt.bad {
				if err == nil {
					t.Fatalf("decodeChunk accepted %q (encoding/json: %v)", tt.data, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeChunk: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decodeChunk = %+v, encoding/json = %+v", got, want)
			}
		})
	}
}

func BenchmarkDecodeChunk(b *testing.B) {
	data := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`)
	b.Run("jx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c wireChunk
			if err := decodeChunk(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c wireChunk
			if err := json.Unmarshal(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
