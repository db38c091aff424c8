"""The caller's conversations: list, read, delete.

Every lookup goes through ``services.conversations`` with the caller's user id, which
raises ``ConversationNotFound`` for unknown ids and for other users' ids alike (→ 404),
so one user can never tell whether another user's conversation exists.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, Path

from api.auth import current_user, require_api_key
from api.deps import get_services
from api.errors import ERROR_RESPONSES
from api.schemas import ConversationInfo, ConversationList, DeletedResponse, MessageInfo, MessageList
from services import Services

router = APIRouter(
    prefix="/api/conversations",
    tags=["conversations"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
)

ConversationId = Path(max_length=200, description="A conversation id from /api/conversations")


@router.get("", response_model=ConversationList, summary="Your conversations, newest first")
async def list_conversations(
    user: str = Depends(current_user), services: Services = Depends(get_services)
) -> ConversationList:
    conversations = await anyio.to_thread.run_sync(services.conversations.list, user)
    return ConversationList(
        conversations=[ConversationInfo.model_validate(c, from_attributes=True) for c in conversations]
    )


@router.get("/{conversation_id}/messages", response_model=MessageList, summary="Messages of one conversation")
async def list_messages(
    conversation_id: str = ConversationId,
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
) -> MessageList:
    messages = await anyio.to_thread.run_sync(services.conversations.messages, user, conversation_id)
    return MessageList(messages=[MessageInfo.model_validate(m, from_attributes=True) for m in messages])


@router.delete("/{conversation_id}", response_model=DeletedResponse, summary="Delete a conversation")
async def delete_conversation(
    conversation_id: str = ConversationId,
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
) -> DeletedResponse:
    await anyio.to_thread.run_sync(services.conversations.delete, user, conversation_id)
    return DeletedResponse(id=conversation_id)
