//! multi (opcode 14) and multiRead (opcode 22): a list of ops, each after a MultiHeader, closed by
//! a `MultiHeader{type=-1, done=true, err=-1}`. Not a jute record, but laid out with jute records.

use bytes::{Buf, BufMut};

use crate::proto::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, ErrorResponse, GetChildrenRequest, GetChildrenResponse, GetDataRequest,
    GetDataResponse, MultiHeader, SetDataRequest, SetDataResponse,
};
use crate::{DecodeError, OpCode, Record};

/// One operation of a multi request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MultiOp {
    /// create (1), create2 (15) or createContainer (19): `op` keeps which, since the result differs.
    Create {
        op: OpCode,
        request: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl MultiOp {
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create { op, .. } => *op,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// Whether the op belongs in a multiRead rather than a multi.
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    /// The path the op works on.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create { request, .. } => &request.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    fn write_body<B: BufMut>(&self, out: &mut B) {
        match self {
            MultiOp::Create { request, .. } => request.write(out),
            MultiOp::CreateTtl(r) => r.write(out),
            MultiOp::Delete(r) => r.write(out),
            MultiOp::SetData(r) => r.write(out),
            MultiOp::Check(r) => r.write(out),
            MultiOp::GetChildren(r) => r.write(out),
            MultiOp::GetData(r) => r.write(out),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiOp::Create { request, .. } => request.encoded_len(),
            MultiOp::CreateTtl(r) => r.encoded_len(),
            MultiOp::Delete(r) => r.encoded_len(),
            MultiOp::SetData(r) => r.encoded_len(),
            MultiOp::Check(r) => r.encoded_len(),
            MultiOp::GetChildren(r) => r.encoded_len(),
            MultiOp::GetData(r) => r.encoded_len(),
        }
    }
}

const HEADER_LEN: usize = 9;

fn end_header() -> MultiHeader {
    MultiHeader {
        r#type: -1,
        done: true,
        err: -1,
    }
}

/// `MultiOperationRecord`: the body of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

impl Record for MultiRequest {
    fn write<B: BufMut>(&self, out: &mut B) {
        for op in &self.ops {
            MultiHeader {
                r#type: op.op_code().code(),
                done: false,
                err: -1,
            }
            .write(out);
            op.write_body(out);
        }
        end_header().write(out);
    }

    /// Fails on an op type that cannot appear in a multi and on reads mixed with writes, where a
    /// 3.8 server answers MARSHALLINGERROR.
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let header = MultiHeader::read(input)?;
            if header.done {
                break;
            }
            let op = match OpCode::try_from(header.r#type) {
                Ok(op @ (OpCode::Create | OpCode::Create2 | OpCode::CreateContainer)) => {
                    MultiOp::Create {
                        op,
                        request: Record::read(input)?,
                    }
                }
                Ok(OpCode::CreateTtl) => MultiOp::CreateTtl(Record::read(input)?),
                Ok(OpCode::Delete) => MultiOp::Delete(Record::read(input)?),
                Ok(OpCode::SetData) => MultiOp::SetData(Record::read(input)?),
                Ok(OpCode::Check) => MultiOp::Check(Record::read(input)?),
                Ok(OpCode::GetChildren) => MultiOp::GetChildren(Record::read(input)?),
                Ok(OpCode::GetData) => MultiOp::GetData(Record::read(input)?),
                _ => {
                    return Err(DecodeError::invalid(format!(
                        "invalid type of op {} in a multi request",
                        header.r#type
                    )));
                }
            };
            if ops
                .first()
                .is_some_and(|first: &MultiOp| first.is_read() != op.is_read())
            {
                return Err(DecodeError::invalid(
                    "mixing read and write operations in a multi request",
                ));
            }
            ops.push(op);
        }
        Ok(MultiRequest { ops })
    }

    fn encoded_len(&self) -> usize {
        self.ops
            .iter()
            .map(|op| HEADER_LEN + op.body_len())
            .sum::<usize>()
            + HEADER_LEN
    }
}

/// One result of a multi response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MultiResult {
    /// Result type 1: a plain create.
    Create(CreateResponse),
    /// Result type 15: create2, createContainer and createTTL.
    Create2(Create2Response),
    Delete,
    SetData(SetDataResponse),
    Check,
    GetChildren(GetChildrenResponse),
    GetData(GetDataResponse),
    /// Result type -1 with the error code (0 for the ops before the failing one of a failed multi).
    Error(i32),
}

impl MultiResult {
    fn header(&self) -> MultiHeader {
        let (ty, err) = match self {
            MultiResult::Create(_) => (OpCode::Create.code(), 0),
            MultiResult::Create2(_) => (OpCode::Create2.code(), 0),
            MultiResult::Delete => (OpCode::Delete.code(), 0),
            MultiResult::SetData(_) => (OpCode::SetData.code(), 0),
            MultiResult::Check => (OpCode::Check.code(), 0),
            MultiResult::GetChildren(_) => (OpCode::GetChildren.code(), 0),
            MultiResult::GetData(_) => (OpCode::GetData.code(), 0),
            MultiResult::Error(err) => (OpCode::Error.code(), *err),
        };
        MultiHeader {
            r#type: ty,
            done: false,
            err,
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiResult::Create(r) => r.encoded_len(),
            MultiResult::Create2(r) => r.encoded_len(),
            MultiResult::Delete | MultiResult::Check => 0,
            MultiResult::SetData(r) => r.encoded_len(),
            MultiResult::GetChildren(r) => r.encoded_len(),
            MultiResult::GetData(r) => r.encoded_len(),
            MultiResult::Error(_) => 4,
        }
    }
}

/// The body of a multi or multiRead response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MultiResponse {
    pub results: Vec<MultiResult>,
}

impl Record for MultiResponse {
    fn write<B: BufMut>(&self, out: &mut B) {
        for result in &self.results {
            result.header().write(out);
            match result {
                MultiResult::Create(r) => r.write(out),
                MultiResult::Create2(r) => r.write(out),
                MultiResult::Delete | MultiResult::Check => {}
                MultiResult::SetData(r) => r.write(out),
                MultiResult::GetChildren(r) => r.write(out),
                MultiResult::GetData(r) => r.write(out),
                MultiResult::Error(err) => ErrorResponse { err: *err }.write(out),
            }
        }
        end_header().write(out);
    }

    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let header = MultiHeader::read(input)?;
            if header.done {
                break;
            }
            let result = match OpCode::try_from(header.r#type) {
                Ok(OpCode::Create) => MultiResult::Create(Record::read(input)?),
                Ok(OpCode::Create2) => MultiResult::Create2(Record::read(input)?),
                Ok(OpCode::Delete) => MultiResult::Delete,
                Ok(OpCode::SetData) => MultiResult::SetData(Record::read(input)?),
                Ok(OpCode::Check) => MultiResult::Check,
                Ok(OpCode::GetChildren) => MultiResult::GetChildren(Record::read(input)?),
                Ok(OpCode::GetData) => MultiResult::GetData(Record::read(input)?),
                Ok(OpCode::Error) => MultiResult::Error(ErrorResponse::read(input)?.err),
                _ => {
                    return Err(DecodeError::invalid(format!(
                        "invalid type {} in a multi response",
                        header.r#type
                    )));
                }
            };
            results.push(result);
        }
        Ok(MultiResponse { results })
    }

    fn encoded_len(&self) -> usize {
        self.results
            .iter()
            .map(|r| HEADER_LEN + r.body_len())
            .sum::<usize>()
            + HEADER_LEN
    }
}
